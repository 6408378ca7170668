"""Post-deploy check of a live S3 endpoint against the stack's object store config.

Reads, through the S3 API (boto3), what a deployed MinIO really enforces: each declared
bucket exists, its versioning status, its lifecycle rules (expiry per prefix, expiry of
noncurrent versions), that the audit bucket never expires current objects, and that no
bucket policy admits anonymous principals. Used by `dataplatform verify-storage` after a
deploy and by DR drills after a restore.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from components.object_store import AUDIT_BUCKET, BucketSettings, ObjectStoreSettings
from components.runtime.stack import StackSettings


class S3Client(Protocol):
    """The part of a boto3 S3 client this check uses."""

    def head_bucket(self, **kwargs: Any) -> Any: ...
    def get_bucket_versioning(self, **kwargs: Any) -> Any: ...
    def get_bucket_lifecycle_configuration(self, **kwargs: Any) -> Any: ...
    def get_bucket_policy(self, **kwargs: Any) -> Any: ...


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def _lifecycle(client: S3Client, bucket: str) -> dict[str, dict[str, Any]]:
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except Exception as error:  # botocore ClientError; boto3 is optional at import time
        if _error_code(error) == "NoSuchLifecycleConfiguration":
            return {}
        raise
    return {rule["ID"]: rule for rule in rules}


def _rule_problems(
    bucket: str, declared: BucketSettings, live: dict[str, dict[str, Any]]
) -> list[str]:
    problems: list[str] = []
    for rule in declared.lifecycle:
        found = live.get(rule.id)
        if found is None:
            problems.append(f"{bucket}: lifecycle rule {rule.id!r} is missing")
            continue
        if found.get("Status") != "Enabled":
            problems.append(f"{bucket}: lifecycle rule {rule.id!r} is {found.get('Status')}")
        prefix = found.get("Filter", {}).get("Prefix", found.get("Prefix", ""))
        if prefix != rule.prefix:
            problems.append(
                f"{bucket}: rule {rule.id!r} filters {prefix!r}, config says {rule.prefix!r}"
            )
        days = found.get("Expiration", {}).get("Days")
        if days != rule.expire_days:
            problems.append(
                f"{bucket}: rule {rule.id!r} expires after {days} days, config says {rule.expire_days}"
            )
        noncurrent = found.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
        if noncurrent != rule.noncurrent_expire_days:
            problems.append(
                f"{bucket}: rule {rule.id!r} expires noncurrent versions after {noncurrent} days, "
                f"config says {rule.noncurrent_expire_days}"
            )
    if declared.name == AUDIT_BUCKET:
        expiring = sorted(rule_id for rule_id, rule in live.items() if rule.get("Expiration"))
        if expiring:
            problems.append(
                f"{bucket}: the audit bucket must never expire objects, rules {expiring} do"
            )
    return problems


def _anonymous_access(client: S3Client, bucket: str) -> list[str]:
    try:
        document = json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"])
    except Exception as error:
        if _error_code(error) in ("NoSuchBucketPolicy", "NoSuchPolicy"):
            return []
        raise
    problems = []
    for statement in document.get("Statement", []):
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        principals = aws if isinstance(aws, list) else [aws]
        if statement.get("Effect") == "Allow" and "*" in principals:
            problems.append(
                f"{bucket}: bucket policy allows anonymous access ({statement.get('Sid', 'no Sid')})"
            )
    return problems


CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def missing_credentials(stack: str, endpoint: str) -> str:
    """What to set when boto3 finds no credentials for the live check of `stack`."""
    return (
        f"no S3 credentials to check stack {stack!r} at {endpoint}: export "
        f"{' and '.join(CREDENTIAL_VARIABLES)} (a MinIO user that may read bucket settings, "
        "e.g. the root user), or AWS_PROFILE naming a profile in ~/.aws/credentials"
    )


def verify_object_store(
    client: S3Client, stack: StackSettings, settings: ObjectStoreSettings
) -> list[str]:
    """Every difference between the live endpoint and the declared buckets; empty when they agree.

    An error without an S3 answer (endpoint unreachable, no credentials) is raised as is.
    """
    problems: list[str] = []
    for declared in settings.buckets:
        bucket = stack.physical_name(declared.name)
        try:
            client.head_bucket(Bucket=bucket)
        except Exception as error:
            if getattr(error, "response", None) is None:
                raise  # no answer from the endpoint at all: the caller says what to fix
            problems.append(f"{bucket}: bucket is not reachable ({_error_code(error)})")
            continue
        status = client.get_bucket_versioning(Bucket=bucket).get("Status", "Unversioned")
        wanted = "Enabled" if declared.versioning else "Suspended"
        if status != wanted and not (wanted == "Suspended" and status == "Unversioned"):
            problems.append(f"{bucket}: versioning is {status}, config says {wanted}")
        problems += _rule_problems(bucket, declared, _lifecycle(client, bucket))
        problems += _anonymous_access(client, bucket)
    return problems
