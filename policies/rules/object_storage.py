"""Object storage: versioned, lifecycle-managed, never public; audit objects never expire.

MinIO splits a bucket's settings over separate resources (S3Bucket, S3BucketVersioning,
IlmPolicy, S3BucketPolicy), so the join policies are stack policies matching them by
their `bucket` input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import wire

_PUBLIC_ACLS = frozenset({"public", "public-read", "public-read-write", "authenticated-read"})


def _buckets(resources: list[PolicyResource]) -> Iterator[tuple[str, PolicyResource]]:
    """(bucket name, resource) of every S3Bucket whose name is known."""
    for resource in resources:
        if resource.resource_type == wire.MINIO_BUCKET:
            name = wire.text(wire.get(resource.props, "bucket"))
            if name:
                yield name, resource


def _by_bucket(resources: list[PolicyResource], resource_type: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for resource in resources:
        if resource.resource_type == resource_type:
            name = wire.get(resource.props, "bucket")
            if isinstance(name, str) and not wire.is_unknown(name):
                found.setdefault(name, []).append(resource.props)
    return found


def validate_versioning(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every bucket has an S3BucketVersioning with status Enabled."""
    versioning = _by_bucket(list(args.resources), wire.MINIO_VERSIONING)
    for name, bucket in _buckets(list(args.resources)):
        statuses = [
            wire.get(v, "versioningConfiguration", "status") for v in versioning.get(name, [])
        ]
        if any(wire.is_unknown(s) for s in statuses):
            continue
        if not statuses:
            report(f"bucket '{name}' has no S3BucketVersioning.", bucket.urn)
        elif "Enabled" not in statuses:
            report(
                f"bucket '{name}' versioning is {', '.join(map(str, statuses))}, not Enabled.",
                bucket.urn,
            )


def _enabled_rules(ilm: Any) -> list[Any]:
    return [
        r
        for r in wire.elements(wire.get(ilm, "rules"))
        if wire.get(r, "status", default="Enabled") != "Disabled"
    ]


def validate_lifecycle(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every bucket has an IlmPolicy with at least one enabled rule."""
    policies = _by_bucket(list(args.resources), wire.MINIO_ILM)
    for name, bucket in _buckets(list(args.resources)):
        found = policies.get(name, [])
        if any(wire.is_unknown(wire.get(ilm, "rules")) for ilm in found):
            continue
        if not found:
            report(f"bucket '{name}' has no IlmPolicy (lifecycle rules).", bucket.urn)
        elif not any(_enabled_rules(ilm) for ilm in found):
            report(f"bucket '{name}' has an IlmPolicy without an enabled rule.", bucket.urn)


def _public_statements(document: Any) -> list[str]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    public = []
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        values: list[Any] = [principal]
        if isinstance(principal, dict):
            values = [
                v
                for value in principal.values()
                for v in (value if isinstance(value, list) else [value])
            ]
        elif isinstance(principal, list):
            values = principal
        if "*" in values:
            public.append(str(statement.get("Sid") or statement.get("Action")))
    return public


def validate_no_public_access(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No bucket has a public ACL or a bucket policy allowing anonymous principals."""
    if args.resource_type == wire.MINIO_BUCKET:
        acl = wire.get(args.props, "acl")
        if isinstance(acl, str) and acl in _PUBLIC_ACLS:
            report(f"bucket ACL is '{acl}'; buckets stay private.", None)
    elif args.resource_type == wire.MINIO_BUCKET_POLICY:
        policy = wire.get(args.props, "policy")
        if not isinstance(policy, str) or wire.is_secret_or_unknown(policy):
            return
        try:
            document = json.loads(policy)
        except ValueError:
            report("bucket policy is not valid JSON, so it cannot be proven private.", None)
            return
        public = _public_statements(document)
        if public:
            report(
                f"bucket policy allows anonymous access (Principal '*'): {', '.join(public)}.", None
            )


AUDIT_SCHEMA: dict[str, dict[str, Any]] = {
    "auditBucketPattern": {
        "type": "string",
        "default": "audit$",
        "description": "Regex matched (search) against bucket names to find audit buckets.",
    },
    "minNoncurrentRetentionDays": {
        "type": "integer",
        "default": 2555,
        "description": "Noncurrent audit object versions may expire only after this many days.",
    },
}


def validate_audit_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Lifecycle rules of an audit bucket never expire current objects (nor recent versions)."""
    if args.resource_type != wire.MINIO_ILM:
        return
    bucket = wire.text(wire.get(args.props, "bucket"))
    pattern = str(wire.setting(args, AUDIT_SCHEMA, "auditBucketPattern"))
    if bucket is None or not re.search(pattern, bucket):
        return
    minimum = int(wire.setting(args, AUDIT_SCHEMA, "minNoncurrentRetentionDays"))
    for rule in _enabled_rules(args.props):
        rule_id = wire.text(wire.get(rule, "id")) or "?"
        expiration = wire.get(rule, "expiration")
        if expiration and not wire.is_unknown(expiration):
            report(
                f"audit bucket '{bucket}' rule '{rule_id}' expires objects ({expiration}).", None
            )
        days = wire.get(rule, "noncurrentVersionExpirationDays")
        if isinstance(days, int | float) and not isinstance(days, bool) and 0 < days < minimum:
            report(
                f"audit bucket '{bucket}' rule '{rule_id}' expires noncurrent versions after "
                f"{int(days)} days (< {minimum}).",
                None,
            )


bucket_versioning = StackValidationPolicy(
    name="bucket-versioning-enabled",
    description=(
        "Every MinIO bucket (S3Bucket) has an S3BucketVersioning for the same bucket name "
        "whose status is Enabled, so overwritten or deleted objects can be recovered."
    ),
    validate=validate_versioning,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Declare S3BucketVersioning(bucket=..., versioning_configuration status Enabled).",
    tags=["object-storage", "durability"],
)

bucket_lifecycle = StackValidationPolicy(
    name="bucket-lifecycle-policy",
    description="Every MinIO bucket has an IlmPolicy (lifecycle) with at least one enabled rule.",
    validate=validate_lifecycle,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Give the bucket lifecycle rules in the stack config (expiration of scratch data, "
        "noncurrent version expiration)."
    ),
    tags=["object-storage", "cost"],
)

bucket_no_public_access = ResourceValidationPolicy(
    name="bucket-no-public-access",
    description=(
        "No MinIO bucket has a public ACL (public, public-read, public-read-write, "
        "authenticated-read) and no S3BucketPolicy allows an anonymous principal ('*')."
    ),
    validate=validate_no_public_access,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "Keep acl 'private'; grant access to named IAM users through IamPolicy and "
        "IamUserPolicyAttachment instead of bucket-wide anonymous statements."
    ),
    tags=["object-storage", "access"],
)

audit_bucket_retention = ResourceValidationPolicy(
    name="audit-bucket-never-expires",
    description=(
        "Lifecycle rules of the audit bucket (bucket name matching auditBucketPattern, "
        "default 'audit$') never expire current objects, and expire noncurrent versions "
        "only after minNoncurrentRetentionDays."
    ),
    validate=validate_audit_retention,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=AUDIT_SCHEMA),
    remediation_steps=(
        "Remove expiration from the audit bucket's lifecycle rules; keep noncurrent versions "
        "at least minNoncurrentRetentionDays (enable object locking for WORM retention)."
    ),
    tags=["object-storage", "audit"],
)

POLICIES = [bucket_versioning, bucket_lifecycle, bucket_no_public_access, audit_bucket_retention]
"""The object storage policies."""
