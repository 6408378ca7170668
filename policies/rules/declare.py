"""How every rule module declares its resource policies: mandatory unless the stack's
policy config says otherwise, with a severity, remediation steps, tags and, where a rule
reads settings, a config schema (JSON Schema properties)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
)


def mandatory_policy(
    name: str,
    description: str,
    validate: Any,
    *,
    severity: Severity,
    remediation: str,
    tags: Sequence[str],
    schema: dict[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    """A `ResourceValidationPolicy`, mandatory by default (pulumi_policy semantics)."""
    return ResourceValidationPolicy(
        name=name,
        description=description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY,
        severity=severity,
        remediation_steps=remediation,
        config_schema=PolicyConfigSchema(properties=schema) if schema else None,
        tags=list(tags),
    )
