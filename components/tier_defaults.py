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

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from components.runtime.stack import Tier


class HasTierDefaults(Protocol):
    """A settings model that knows its defaults per tier."""

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """Raw section values (camelCase keys) this tier starts from."""
        ...


def merged(defaults: Mapping[str, Any], section: Mapping[str, Any]) -> dict[str, Any]:
    """`section` over `defaults`: mappings merge recursively, other values replace.

    The result shares nothing with either input (values are copied), so a caller may
    edit it without changing a default another stack will read.
    """
    result: dict[str, Any] = copy.deepcopy(dict(defaults))
    for key, value in section.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def section_errors(section: str, error: ValidationError) -> str:
    """One `; `-joined line per problem of a section: key path, message, the value given."""
    problems: list[str] = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; keys are camelCase)"
        if not item["loc"]:  # a whole-section rule: its message names its keys
            problems.append(message)
            continue
        path = ".".join(str(part) for part in (section, *item["loc"]))
        given = item.get("input")
        shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
        problems.append(f"{path}: {message}{shown}")
    return "; ".join(problems)


Model = TypeVar("Model", bound=BaseModel)


def validate_for_tier(
    model: type[Model], section: str, defaults: Mapping[str, Any], raw: Mapping[str, Any], tier: Any
) -> Model:
    """`raw` merged over `defaults`, validated, then the model's `tier_problems(tier)`.

    Raises ValueError listing every problem, each naming its `<section>.` key path.
    """
    try:
        settings = model.model_validate(merged(defaults, raw))
    except ValidationError as error:
        raise ValueError(section_errors(section, error)) from None
    checked: Any = settings  # every section model defines tier_problems(tier)
    problems: list[str] = checked.tier_problems(tier)
    if problems:
        raise ValueError("; ".join(problems))
    return settings


def load_defaults(path: Path) -> dict[str, Any]:
    """A YAML mapping of raw section values shipped with a component (governance data).

    The file is parsed once per process (it is part of the code); each call returns its
    own deep copy, so a caller may change it. Raises ValueError if the file does not hold
    a mapping (a packaging mistake, not a user's).
    """
    return copy.deepcopy(_parsed(path))


@functools.cache
def _parsed(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it
    document = yaml.load(path.read_text(), Loader=loader)
    if not isinstance(document, dict):
        raise ValueError(f"{path}: expected a mapping of section defaults")
    return document
