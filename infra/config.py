"""The whole stack config as one frozen, typed `PlatformConfig`, validated before any resource.

Each section of `Pulumi.<stack>.yaml` is one config key of the `data-platform` project
and one field here; the sections' models belong to the components that use them.
Errors name the stack, the key path and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Self

import pulumi
from pydantic import ValidationError, model_validator

from components.common import AdminEndpoint
from components.contracts import requirement_problems
from components.dagster import DagsterSettings
from components.kafka import KafkaSettings
from components.marquez import MarquezSettings
from components.object_store import ObjectStoreSettings
from components.postgres import PostgresSettings
from components.runtime.docker import DockerSettings
from components.runtime.kubernetes import KubernetesSettings
from components.runtime.stack import SettingsModel, StackSettings, Target, Tier
from components.tier_defaults import merged
from components.trino import TrinoSettings
from infra.errors import UserError

PROJECT = "data-platform"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


class ConfigError(UserError):
    """Stack config that does not describe a valid platform; the message lists every problem."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        self.stack = stack
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"stack {stack!r} has invalid config:\n{lines}")


class AdminAccess(SettingsModel):
    """Fixed admin addresses of the control-plane servers (Docker's published ports).

    On Kubernetes leave them out: the deploy creates an internal load balancer per server
    and the providers use its address (docs/architecture.md, control plane).
    """

    minio: AdminEndpoint | None = None
    postgres: AdminEndpoint | None = None
    kafka: AdminEndpoint | None = None


class PlatformConfig(SettingsModel):
    """Everything one stack declares; the only place stacks differ."""

    platform: StackSettings
    docker: DockerSettings | None = None
    kubernetes: KubernetesSettings | None = None
    admin_access: AdminAccess = AdminAccess()
    object_store: ObjectStoreSettings
    postgres: PostgresSettings
    kafka: KafkaSettings | None = None
    marquez: MarquezSettings | None = None
    trino: TrinoSettings
    dagster: DagsterSettings | None = None

    @model_validator(mode="after")
    def _target_consistent(self) -> Self:
        target = self.platform.target
        if target is Target.DOCKER:
            if self.docker is None:
                raise ValueError("platform.target is 'docker' but the 'docker' section is missing")
            if self.kubernetes is not None:
                raise ValueError("platform.target is 'docker': remove the 'kubernetes' section")
            for service, endpoint in self.admin_access:
                if endpoint is None:
                    raise ValueError(
                        f"adminAccess.{service}.port is required on docker: the loopback "
                        "port the deploy publishes for the provider"
                    )
                if endpoint.host not in LOOPBACK_HOSTS:
                    raise ValueError(
                        f"adminAccess.{service}.host must be 127.0.0.1 on docker "
                        f"(ports are published on loopback only), got {endpoint.host!r}"
                    )
        if target is Target.KUBERNETES:
            if self.kubernetes is None:
                raise ValueError(
                    "platform.target is 'kubernetes' but the 'kubernetes' section is missing"
                )
            if self.docker is not None:
                raise ValueError("platform.target is 'kubernetes': remove the 'docker' section")
            uses_load_balancer = any(e is None for _, e in self.admin_access)
            if uses_load_balancer and not self.kubernetes.admin_cidrs:
                raise ValueError(
                    "kubernetes.adminCidrs is required: the admin load balancers that the "
                    "providers reach the servers through admit these networks only"
                )
        return self

    @model_validator(mode="after")
    def _services_fit_stack(self) -> Self:
        """Every enabled service's tier rules, and every requirement served (generic)."""
        from infra.services import SERVICES, enabled_settings, stack_requirements

        sections = enabled_settings(self, SERVICES)
        enabled = [section for section in sections.values() if section is not None]
        problems = [
            problem
            for section in enabled
            if hasattr(section, "tier_problems")
            for problem in section.tier_problems(self.platform.tier)  # type: ignore[attr-defined]
        ]
        problems += requirement_problems(SERVICES, sections)
        if self.kubernetes is not None and not self.kubernetes.api_server_cidrs:
            problems += [
                f"kubernetes.apiServerCidrs is required: {s.section} calls the Kubernetes API "
                "and default-deny egress would block it (the API server's endpoints: "
                "`kubectl get endpoints kubernetes -n default`)"
                for s in SERVICES
                if s.calls_cluster_api and sections.get(s.section) is not None
            ]
        requirements = stack_requirements(sections, SERVICES)
        problems += [
            problem
            for section in enabled
            if hasattr(section, "serve_problems")
            for problem in section.serve_problems(requirements)  # type: ignore[attr-defined]
        ]
        if problems:
            raise ValueError("\n".join(problems))  # one line each (`_describe`)
        return self


def _key_path(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return f"{PROJECT} (across sections)"
    head, *rest = [str(part) for part in loc]
    path = f"{PROJECT}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _describe(error: Mapping[str, Any]) -> str:
    """One line per problem; a check across sections already names its keys in each line."""
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if not loc and kind == "value_error":
        return "\n".join(f"{PROJECT}:{line}" for line in message.splitlines())
    if kind == "missing":
        return f"{_key_path(loc)}: required key is missing"
    if kind == "extra_forbidden":
        return f"{_key_path(loc)}: unknown key (check the spelling; keys are camelCase)"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return f"{_key_path(loc)}: {message}{shown}"


def environment_problems(stack: str, raw: Mapping[str, Any]) -> list[str]:
    """A stack's `platform.environment` must belong to the stack; its tier must fit it.

    The environment is the stack name itself or its first `-`-separated token: stack
    `dev` holds environment `dev`; a stack a user or a DR drill creates, such as
    `prod-dr` or `dev-alice`, may hold `prod` / `dev` (or its whole name). An
    environment named after a tier (`dev`, `test`, `prod`) needs that tier, so a prod
    environment always gets prod protection. Values that are not strings are left to
    the model's own errors.
    """
    platform = raw.get("platform")
    if not isinstance(platform, Mapping):
        return []
    environment = platform.get("environment")
    if not isinstance(environment, str):
        return []
    key = f"{PROJECT}:platform"
    if environment != stack and not stack.startswith(f"{environment}-"):
        allowed = sorted({stack, stack.split("-")[0]}, key=len)
        return [
            f"{key}.environment: expected "
            + " or ".join(repr(a) for a in allowed)
            + f" for stack {stack!r} (the stack name or its first '-' token), got {environment!r}"
        ]
    tier = platform.get("tier")
    if environment in {t.value for t in Tier} and isinstance(tier, str) and tier != environment:
        return [f"{key}.tier: environment {environment!r} needs tier {environment!r}, got {tier!r}"]
    return []


def with_tier_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The stack file's sections merged over each section model's defaults for its tier.

    Sections whose model has no `tier_defaults` are taken as written; an optional section
    the stack leaves out stays out (that service is not in the stack). An unknown or
    missing tier leaves every section as written (the model then reports the tier).
    """
    platform = raw.get("platform")
    tier_value = platform.get("tier") if isinstance(platform, Mapping) else None
    if tier_value not in {t.value for t in Tier}:
        return dict(raw)
    tier = Tier(tier_value)
    result = dict(raw)
    for name, field in PlatformConfig.model_fields.items():
        key = field.alias or name
        model = _section_model(field.annotation)
        defaults = getattr(model, "tier_defaults", None)
        if defaults is None or (key not in raw and not field.is_required()):
            continue  # an optional section left out: the service is not in the stack
        section = raw.get(key, {})
        if isinstance(section, Mapping):
            result[key] = merged(defaults(tier), section)
    return result


def _section_model(annotation: Any) -> Any:
    """The model class of a section field (`X` or `X | None`)."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type):
            return candidate
    return None


def parse_config(stack: str, raw: Mapping[str, Any]) -> PlatformConfig:
    """Validate the stack's config sections (keys without the project prefix).

    Raises `ConfigError` listing every problem, including an environment that does not
    belong to `stack` (`environment_problems`).
    """
    problems = environment_problems(stack, raw)
    platform = raw.get("platform")
    tier = platform.get("tier") if isinstance(platform, Mapping) else None
    try:
        # The tier picks every other section's defaults: without a valid one, the
        # platform section's own errors are the only ones worth reading.
        if tier not in {t.value for t in Tier}:
            StackSettings.model_validate(platform)
    except ValidationError as error:
        found = [
            _describe({**e, "loc": ("platform", *e.get("loc", ()))})  # type: ignore[arg-type]
            for e in error.errors(include_url=False)
        ]
        raise ConfigError(stack, found + problems) from None
    try:
        config = PlatformConfig.model_validate(with_tier_defaults(raw))
    except ValidationError as error:
        found = [
            line
            for e in error.errors(include_url=False)
            for line in _describe(e).splitlines()  # type: ignore[arg-type]
        ]
        raise ConfigError(stack, found + problems) from None
    if problems:
        raise ConfigError(stack, problems)
    return config


def load_from_pulumi() -> PlatformConfig:
    """Read and validate the running stack's config from the Pulumi engine."""
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for field in PlatformConfig.model_fields.values():
        key = field.alias or ""
        value = config.get(key)
        if value is not None:
            raw[key] = decode_value(value)
    return parse_config(pulumi.get_stack(), raw)


def decode_value(value: str) -> Any:
    """A config value as the engine passes it (JSON for objects) -> Python value."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
