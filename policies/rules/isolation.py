"""Isolation: one stack never names another stack's namespace, bucket or database.

The stack's own environment is derived from the resources themselves: the most common
`dataplatform.io/environment` label (else the names of the Namespaces it creates). A
name "belongs" to another stack when one of its tokens (split on - _ . /) is a known
environment that is not part of this stack's environment.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import wire

SCHEMA: dict[str, dict[str, Any]] = {
    "environments": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["dev", "test", "staging", "prod"],
        "description": "Environment names of all stacks (tokens that mark a foreign name).",
    }
}
_BUCKET_INPUT_TYPES = frozenset(
    {wire.MINIO_BUCKET, wire.MINIO_VERSIONING, wire.MINIO_ILM, wire.MINIO_BUCKET_POLICY}
)
_POLICY_DOCUMENT_TYPES = frozenset({wire.MINIO_IAM_POLICY, wire.MINIO_BUCKET_POLICY})
_ARN = re.compile(r"^arn:aws:s3:::([^/*]+)")


def _tokens(name: str) -> set[str]:
    return {t.lower() for t in re.split(r"[-_./]", name) if t}


def stack_environment(resources: list[PolicyResource]) -> str | None:
    """The environment the stack's own resources are labelled with (most common label)."""
    counts: Counter[str] = Counter()
    namespaces: list[str] = []
    for resource in resources:
        value = wire.labels(resource.resource_type, resource.props).get(wire.ENV_LABEL)
        if isinstance(value, str) and not wire.is_unknown(value):
            counts[value] += 1
        if wire.kubernetes_kind(resource.resource_type) == "Namespace":
            name = wire.text(wire.get(resource.props, "metadata", "name"))
            if name:
                namespaces.append(name)
    if counts:
        return counts.most_common(1)[0][0]
    return namespaces[0] if len(namespaces) == 1 else None


def _bucket_names(resource: PolicyResource) -> list[str]:
    names: list[str] = []
    if resource.resource_type in _BUCKET_INPUT_TYPES:
        name = wire.text(wire.get(resource.props, "bucket"))
        if name:
            names.append(name)
    if resource.resource_type in _POLICY_DOCUMENT_TYPES:
        document = wire.load_json(wire.text(wire.get(resource.props, "policy")) or "null")
        statements = document.get("Statement", []) if isinstance(document, dict) else []
        for statement in statements if isinstance(statements, list) else [statements]:
            targets = statement.get("Resource", []) if isinstance(statement, dict) else []
            for arn in targets if isinstance(targets, list) else [targets]:
                match = _ARN.match(str(arn))
                if match:
                    names.append(match.group(1))
    return names


def _database_names(resource: PolicyResource) -> list[str]:
    if not resource.resource_type.startswith("postgresql:"):
        return []
    key = "name" if resource.resource_type == wire.PG_DATABASE else "database"
    name = wire.text(wire.get(resource.props, key))
    return [name] if name else []


def validate_isolation(args: StackValidationArgs, report: ReportViolation) -> None:
    """Report every namespace, bucket, database or environment label of another stack."""
    resources = list(args.resources)
    environment = stack_environment(resources)
    if environment is None:
        return
    own = _tokens(environment)
    foreign = {str(e).lower() for e in wire.setting(args, SCHEMA, "environments")} - own

    def other(name: str) -> bool:
        return bool(_tokens(name) & foreign)

    for resource in resources:
        if wire.kubernetes_kind(resource.resource_type):
            namespace = wire.text(wire.get(resource.props, "metadata", "namespace"))
            if wire.kubernetes_kind(resource.resource_type) == "Namespace":
                namespace = wire.text(wire.get(resource.props, "metadata", "name"))
            if namespace and other(namespace):
                report(
                    f"'{resource.name}' uses namespace '{namespace}', which belongs to another "
                    f"stack (this stack is '{environment}').",
                    resource.urn,
                )
        label = wire.labels(resource.resource_type, resource.props).get(wire.ENV_LABEL)
        if isinstance(label, str) and not wire.is_unknown(label) and label != environment:
            report(
                f"'{resource.name}' is labelled {wire.ENV_LABEL}={label} in stack '{environment}'.",
                resource.urn,
            )
        for bucket in _bucket_names(resource):
            if other(bucket):
                report(
                    f"'{resource.name}' names bucket '{bucket}' of another stack "
                    f"(this stack is '{environment}').",
                    resource.urn,
                )
        for database in _database_names(resource):
            if other(database):
                report(
                    f"'{resource.name}' names database '{database}' of another stack "
                    f"(this stack is '{environment}').",
                    resource.urn,
                )


stack_isolation = StackValidationPolicy(
    name="stack-isolation",
    description=(
        "No resource names another stack's namespace, bucket (bucket inputs and IAM/bucket "
        "policy ARNs) or database, or carries another environment's label; the stack's "
        "environment is derived from its own resources' labels and namespaces."
    ),
    validate=validate_isolation,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=SCHEMA),
    remediation_steps=(
        "Derive physical names from the stack prefix (never type another environment's "
        "name); share data between stacks only through reviewed replication jobs."
    ),
    tags=["isolation"],
)

POLICIES = [stack_isolation]
"""The isolation policies."""
