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


def policy_document(resource_type: str, props: Any) -> Any:
    """The IAM policy document of any resource that carries one, parsed; None otherwise.

    MinIO IamPolicy, IamGroupPolicy and S3BucketPolicy, AWS iam Policy/RolePolicy/
    UserPolicy/GroupPolicy and s3 BucketPolicy all keep it in `policy`, as JSON text
    or (AWS) an object. Any other resource whose type token ends in `Policy` and whose
    `policy` holds a document with a `Statement` is read too.
    """
    if not resource_type.rsplit(":", 1)[-1].endswith("Policy"):
        return None
    policy = wire.get(props, "policy")
    if isinstance(policy, str):
        if wire.is_secret_or_unknown(policy):
            return None
        policy = wire.load_json(policy)
    if wire.is_unknown(policy) or not hasattr(policy, "get"):
        return None
    return policy if wire.get(policy, "Statement") is not None else None


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return [v for v in wire.elements(value) if isinstance(v, str)]


def _wildcard_action(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def _wildcard_resource(resource: str) -> bool:
    if resource == "*":
        return True
    if resource.startswith("arn:"):
        bucket = resource.split(":::", 1)[-1].split("/", 1)[0] if ":::" in resource else ""
        return resource.endswith(":*") or "*" in bucket or "?" in bucket
    return False


def wildcard_findings(document: Any) -> list[str]:
    """What each Allow statement of a policy document grants too broadly."""
    statements = wire.get(document, "Statement")
    if hasattr(statements, "get"):
        statements = [statements]
    findings: list[str] = []
    for number, statement in enumerate(wire.elements(statements), start=1):
        if wire.get(statement, "Effect") != "Allow":
            continue
        sid = wire.text(wire.get(statement, "Sid")) or f"statement {number}"
        actions = [a for a in _as_list(wire.get(statement, "Action")) if _wildcard_action(a)]
        if actions:
            findings.append(f"{sid} allows every action ({', '.join(actions)})")
        if wire.get(statement, "NotAction") is not None:
            findings.append(f"{sid} allows every action but a few (NotAction)")
        targets = [r for r in _as_list(wire.get(statement, "Resource")) if _wildcard_resource(r)]
        if targets:
            findings.append(f"{sid} applies to every bucket ({', '.join(targets)})")
        if wire.get(statement, "NotResource") is not None:
            findings.append(f"{sid} applies to every resource but a few (NotResource)")
    return findings


def validate_no_wildcards(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Allow statements name their actions and buckets: no `*`, `s3:*`, `arn:aws:s3:::*`."""
    document = policy_document(args.resource_type, args.props)
    if document is None:
        return
    for finding in wildcard_findings(document):
        report(f"policy '{args.name}': {finding}.", None)


FORCE_DESTROY_SCHEMA: dict[str, dict[str, Any]] = {
    "forbidForceDestroy": {
        "type": "boolean",
        "default": True,
        "description": "Refuse buckets that a destroy would empty (prod).",
    },
}
_BUCKET_TYPES = frozenset({wire.MINIO_BUCKET, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})


def validate_force_destroy(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Buckets cannot be force-destroyed (emptied with all their objects) where forbidden."""
    if args.resource_type not in _BUCKET_TYPES:
        return
    if not wire.setting(args, FORCE_DESTROY_SCHEMA, "forbidForceDestroy"):
        return
    if wire.boolean(wire.get(args.props, "forceDestroy")) is True:
        name = wire.text(wire.get(args.props, "bucket")) or args.name
        report(f"bucket '{name}' sets forceDestroy: a destroy deletes every object in it.", None)


LOCK_SCHEMA: dict[str, dict[str, Any]] = {
    "auditBucketPattern": AUDIT_SCHEMA["auditBucketPattern"],
    "requireObjectLock": {
        "type": "boolean",
        "default": True,
        "description": "Audit buckets must be created with object locking.",
    },
    "requireDefaultRetention": {
        "type": "boolean",
        "default": True,
        "description": "A locked audit bucket must have a default retention resource.",
    },
    "requiredMode": {
        "type": "string",
        "default": "COMPLIANCE",
        "description": "COMPLIANCE: only compliance mode passes; GOVERNANCE: either mode.",
    },
    "minRetentionDays": {"type": "integer", "default": 1},
}
_DAYS_PER_UNIT = {"DAYS": 1, "YEARS": 365}


def _retention(resource: PolicyResource) -> tuple[str | None, Any, Any] | None:
    """(bucket, mode, days) of a default-retention resource of any provider, or None.

    MinIO `*:S3BucketRetention` (`mode`, `unit` DAYS/YEARS, `validityPeriod`) and AWS
    `aws:s3/bucketObjectLockConfiguration[V2]` (`rule.defaultRetention.{mode,days,years}`).
    """
    token = resource.resource_type.rsplit(":", 1)[-1]
    props = resource.props
    bucket = wire.text(wire.get(props, "bucket"))
    if token == "S3BucketRetention":
        unit = (wire.text(wire.get(props, "unit")) or "DAYS").upper()
        period = wire.get(props, "validityPeriod")
        days = period * _DAYS_PER_UNIT.get(unit, 1) if isinstance(period, int | float) else period
        return bucket, wire.get(props, "mode"), days
    if token.startswith("BucketObjectLockConfiguration"):
        default = wire.get(props, "rule", "defaultRetention")
        if default is None:
            return bucket, None, 0
        years = wire.get(default, "years")
        days = wire.get(default, "days")
        if isinstance(years, int | float) and not isinstance(years, bool):
            days = years * 365
        return bucket, wire.get(default, "mode"), days
    return None


def _retentions(resources: list[PolicyResource]) -> dict[str, list[tuple[Any, Any]]]:
    found: dict[str, list[tuple[Any, Any]]] = {}
    for resource in resources:
        retention = _retention(resource)
        if retention and retention[0]:
            found.setdefault(retention[0], []).append(retention[1:])
    return found


def _judge_retention(
    args: StackValidationArgs, name: str, mode: Any, days: Any, report: ReportViolation, urn: str
) -> None:
    if wire.is_unknown(mode) or wire.is_unknown(days):
        return
    minimum = int(wire.setting(args, LOCK_SCHEMA, "minRetentionDays"))
    if not isinstance(days, int | float) or isinstance(days, bool) or days < minimum:
        report(
            f"audit bucket '{name}' retains objects for {wire.shown(days)} days (< {minimum}).", urn
        )
    wanted = str(wire.setting(args, LOCK_SCHEMA, "requiredMode")).upper()
    actual = (wire.text(mode) or "").upper()
    if actual not in ("GOVERNANCE", "COMPLIANCE") or (
        wanted == "COMPLIANCE" and actual != "COMPLIANCE"
    ):
        report(
            f"audit bucket '{name}' retention mode is {mode!r}, not {wanted}: privileged "
            "users can shorten or remove it.",
            urn,
        )


def validate_audit_lock(args: StackValidationArgs, report: ReportViolation) -> None:
    """Audit buckets are locked with a default retention that really protects objects."""
    pattern = str(wire.setting(args, LOCK_SCHEMA, "auditBucketPattern"))
    resources = list(args.resources)
    retentions = _retentions(resources)
    for name, bucket in _buckets(resources):
        if not re.search(pattern, name):
            continue
        locking = wire.get(bucket.props, "objectLocking")
        if wire.is_unknown(locking):
            continue
        if wire.boolean(locking) is not True:
            if wire.setting(args, LOCK_SCHEMA, "requireObjectLock"):
                report(
                    f"audit bucket '{name}' has no object locking: any writer can delete it.",
                    bucket.urn,
                )
            continue
        rules = retentions.get(name, [])
        if not rules and wire.setting(args, LOCK_SCHEMA, "requireDefaultRetention"):
            report(
                f"audit bucket '{name}' is locked but has no default retention: objects "
                "written without their own retention are not protected.",
                bucket.urn,
            )
        for mode, days in rules:
            _judge_retention(args, name, mode, days, report, bucket.urn)


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

iam_no_wildcards = ResourceValidationPolicy(
    name="storage-policy-no-wildcards",
    description=(
        "No Allow statement of an IAM or bucket policy (MinIO IamPolicy, IamGroupPolicy, "
        "S3BucketPolicy; AWS iam and s3 bucket policies; any *Policy resource with a policy "
        "document) grants every action ('*', 's3:*', NotAction) or applies to every bucket "
        "or resource ('*', 'arn:aws:s3:::*', bucket-name wildcards, NotResource)."
    ),
    validate=validate_no_wildcards,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "List the actions the client needs (s3:GetObject, s3:PutObject, ...) and the "
        "bucket ARNs it needs them on (arn:aws:s3:::<bucket> and arn:aws:s3:::<bucket>/*)."
    ),
    tags=["object-storage", "access"],
)

bucket_force_destroy = ResourceValidationPolicy(
    name="bucket-no-force-destroy",
    description=(
        "Where forbidForceDestroy is set (prod), no bucket (MinIO S3Bucket, AWS s3 "
        "Bucket/BucketV2) sets forceDestroy, which lets a destroy or replace delete every "
        "object in it."
    ),
    validate=validate_force_destroy,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=FORCE_DESTROY_SCHEMA),
    remediation_steps="Set forceDestroy: false (and protect the bucket) in prod.",
    tags=["object-storage", "durability"],
)

audit_bucket_lock = StackValidationPolicy(
    name="audit-bucket-object-lock",
    description=(
        "Audit buckets (auditBucketPattern) have object locking and a default retention "
        "(MinIO S3BucketRetention, AWS BucketObjectLockConfiguration) of at least "
        "minRetentionDays in requiredMode (COMPLIANCE in prod), so no one can delete audit "
        "objects before they expire."
    ),
    validate=validate_audit_lock,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=LOCK_SCHEMA),
    remediation_steps=(
        "Create the audit bucket with objectLocking: true and declare a default retention "
        "for it (mode COMPLIANCE, validity >= minRetentionDays)."
    ),
    tags=["object-storage", "audit"],
)

POLICIES = [
    bucket_versioning,
    bucket_lifecycle,
    bucket_no_public_access,
    audit_bucket_retention,
    iam_no_wildcards,
    bucket_force_destroy,
    audit_bucket_lock,
]
"""The object storage policies."""
