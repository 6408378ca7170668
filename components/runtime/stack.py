"""Stack-wide settings every component and the runtime share: who owns the stack and its names."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DnsLabel = Annotated[str, Field(pattern=r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$")]


class Tier(StrEnum):
    """The kind of environment a stack is; defaults and policy enforcement follow it."""

    DEV = "dev"
    TEST = "test"
    PROD = "prod"


class Target(StrEnum):
    """Where workloads run."""

    DOCKER = "docker"
    KUBERNETES = "kubernetes"


class SettingsModel(BaseModel):
    """Base of every settings model: frozen, unknown keys rejected, camelCase in stack YAML."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )


class StackSettings(SettingsModel):
    """Identity of one stack: environment name, tier, naming prefix, owner and cost center."""

    environment: DnsLabel
    tier: Tier
    target: Target
    prefix: DnsLabel
    owner: DnsLabel
    cost_center: DnsLabel

    @property
    def is_prod(self) -> bool:
        """True for production-tier stacks, which get protected stateful resources."""
        return self.tier is Tier.PROD

    def physical_name(self, *parts: str) -> str:
        """`<prefix>-<part>-...`: a name that carries the environment, unique across stacks."""
        return "-".join((self.prefix, *parts))
