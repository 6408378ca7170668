"""The Pulumi program: validate the stack's config, build the platform, export its endpoints."""

from __future__ import annotations

import pulumi

from infra.config import ConfigError, load_from_pulumi
from infra.platform import DataPlatform


def run() -> None:
    """Declare the stack's resources; config errors surface before any resource exists."""
    try:
        config = load_from_pulumi()
    except ConfigError as error:
        # RunError prints the message alone: a config mistake is not a program crash.
        raise pulumi.RunError(str(error)) from None
    platform = DataPlatform(f"{config.platform.prefix}-platform", config=config)
    pulumi.export("endpoints", platform.endpoints)
    pulumi.export("inventory", platform.inventory)
