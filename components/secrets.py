"""Generated credentials that stay secret Outputs from creation to use."""

from __future__ import annotations

import pulumi
import pulumi_random as random


def generated_password(
    name: str, *, parent: pulumi.Resource, length: int = 40
) -> pulumi.Output[str]:
    """A random alphanumeric password, explicitly marked secret wherever it flows."""
    password = random.RandomPassword(
        name, length=length, special=False, opts=pulumi.ResourceOptions(parent=parent)
    )
    return pulumi.Output.secret(password.result)
