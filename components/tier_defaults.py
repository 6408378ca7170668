"""Secure defaults per tier, in code: a stack file holds only what differs for its stack.

A settings model of a stack section may define `tier_defaults(tier) -> dict`: the raw
(camelCase, as in a stack file) values that tier starts from. `infra/config.py` merges
the stack file's section over them before validation, so the model sees one complete
section and every error still names the stack file's key. Merge rules: mappings merge key
by key, recursively; anything else (a list, a scalar) in the stack file replaces the
default whole, so a stack can never half-inherit a list of rules.

Governance that must be equal in several tiers (e.g. the Trino access policy of test and
prod) is written once, as a data file next to its model, and returned by
`tier_defaults` for each tier that shares it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import yaml

from components.runtime.stack import Tier


class HasTierDefaults(Protocol):
    """A settings model that knows its defaults per tier."""

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """Raw section values (camelCase keys) this tier starts from."""
        ...


def merged(defaults: Mapping[str, Any], section: Mapping[str, Any]) -> dict[str, Any]:
    """`section` over `defaults`: mappings merge recursively, other values replace."""
    result: dict[str, Any] = dict(defaults)
    for key, value in section.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def load_defaults(path: Path) -> dict[str, Any]:
    """A YAML mapping of raw section values shipped with a component (governance data).

    Raises ValueError if the file does not hold a mapping (a packaging mistake, not a
    user's: the file is part of the code).
    """
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping of section defaults")
    return document
