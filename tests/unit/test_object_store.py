"""The MinIO component: buckets, versioning, lifecycle, users and policies match each stack's config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.object_store import ObjectStoreSettings
from ops.render import Render
from tests.conftest import STACKS, cached_render
from tests.unit.test_config import raw_config


def settings(stack: str) -> ObjectStoreSettings:
    """The stack's object store settings as the program sees them."""
    return ObjectStoreSettings.model_validate(raw_config(stack)["objectStore"])


def by_bucket(render: Render, type_token: str) -> dict[str, dict[str, Any]]:
    """Resources of one type keyed by the physical bucket they configure."""
    return {r["inputs"]["bucket"]: r for r in render.of_type(type_token)}


@pytest.mark.parametrize("stack", STACKS)
def test_buckets_carry_the_environment_and_are_private(stack: str) -> None:
    render = cached_render(stack)
    buckets = by_bucket(render, "minio:index/s3Bucket:S3Bucket")
    expected = {f"dp-{stack}-{b.name}" for b in settings(stack).buckets}
    assert set(buckets) == expected
    assert {"bronze", "silver", "gold", "audit", "backups"} <= {
        b.name for b in settings(stack).buckets
    }
    for bucket in buckets.values():
        assert bucket["inputs"]["acl"] == "private"
        assert bucket["inputs"]["forceDestroy"] is False
    assert not render.of_type("minio:index/s3BucketPolicy:S3BucketPolicy")


@pytest.mark.parametrize("stack", STACKS)
def test_versioning_follows_config(stack: str) -> None:
    versioning = by_bucket(
        cached_render(stack), "minio:index/s3BucketVersioning:S3BucketVersioning"
    )
    for bucket in settings(stack).buckets:
        status = versioning[f"dp-{stack}-{bucket.name}"]["inputs"]["versioningConfiguration"][
            "status"
        ]
        assert status == ("Enabled" if bucket.versioning else "Suspended")
    if stack in ("test", "prod"):
        assert {v["inputs"]["versioningConfiguration"]["status"] for v in versioning.values()} == {
            "Enabled"
        }


def test_prod_audit_bucket_is_object_locked() -> None:
    buckets = by_bucket(cached_render("prod"), "minio:index/s3Bucket:S3Bucket")
    assert buckets["dp-prod-audit"]["inputs"]["objectLocking"] is True
    assert not [
        b for name, b in buckets.items() if name != "dp-prod-audit" and b["inputs"]["objectLocking"]
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle_rules_match_config(stack: str) -> None:
    policies = by_bucket(cached_render(stack), "minio:index/ilmPolicy:IlmPolicy")
    for bucket in settings(stack).buckets:
        rules = {
            rule["id"]: rule for rule in policies[f"dp-{stack}-{bucket.name}"]["inputs"]["rules"]
        }
        assert set(rules) == {rule.id for rule in bucket.lifecycle}
        for rule in bucket.lifecycle:
            rendered = rules[rule.id]
            assert rendered["status"] == "Enabled"
            assert rendered.get("expiration") == (
                f"{rule.expire_days}d" if rule.expire_days else None
            )
            assert rendered.get("noncurrentVersionExpirationDays") == rule.noncurrent_expire_days
            assert rendered.get("filter") == (rule.prefix or None)


@pytest.mark.parametrize("stack", STACKS)
def test_audit_bucket_never_expires_current_objects(stack: str) -> None:
    audit = by_bucket(cached_render(stack), "minio:index/ilmPolicy:IlmPolicy")[f"dp-{stack}-audit"]
    assert all("expiration" not in rule for rule in audit["inputs"]["rules"])


def _statements(render: Render, user: str, stack: str) -> list[dict[str, Any]]:
    [policy] = [
        p
        for p in render.of_type("minio:index/iamPolicy:IamPolicy")
        if p["inputs"]["name"] == f"dp-{stack}-{user}-access"
    ]
    return json.loads(policy["inputs"]["policy"])["Statement"]


def test_an_operator_user_with_write_only_access_cannot_read(tmp_path: Path) -> None:
    """A config user granted write-only access (e.g. for backups) cannot read or list."""
    from infra.config import parse_config
    from ops.render import stack_sections

    sections = stack_sections(Path("Pulumi.dev.yaml"))
    sections["objectStore"]["users"] = [
        {"name": "backup", "grants": [{"bucket": "backups", "access": "write-only"}]}
    ]
    config = parse_config("dev", sections)
    from components.object_store import policy_document

    document = json.loads(policy_document(config.platform, config.object_store.users[0].grants))
    statements = document["Statement"]
    actions = {a for st in statements for a in st["Action"]}
    assert "s3:PutObject" in actions
    assert not actions & {"s3:GetObject", "s3:DeleteObject", "s3:ListBucket", "s3:*"}


@pytest.mark.parametrize("stack", STACKS)
def test_trino_user_reads_bronze_and_writes_curated_layers_only(stack: str) -> None:
    statements = _statements(cached_render(stack), "trino", stack)
    writes = {r for s in statements if "s3:PutObject" in s["Action"] for r in s["Resource"]}
    reads = {r for s in statements if "s3:GetObject" in s["Action"] for r in s["Resource"]}
    assert writes == {f"arn:aws:s3:::dp-{stack}-silver/*", f"arn:aws:s3:::dp-{stack}-gold/*"}
    assert f"arn:aws:s3:::dp-{stack}-bronze/*" in reads
    everything = {r for s in statements for r in s["Resource"]}
    assert not [r for r in everything if "audit" in r or "backups" in r or r.endswith(":::*")]
    assert all(s["Effect"] == "Allow" and "s3:*" not in s["Action"] for s in statements)


@pytest.mark.parametrize("stack", STACKS)
def test_users_are_attached_to_their_own_policy_with_secret_keys(stack: str) -> None:
    render = cached_render(stack)
    users = {u["inputs"]["name"]: u for u in render.of_type("minio:index/iamUser:IamUser")}
    # Operator users from config, and one per consumer requiring buckets (Trino, Dagster).
    expected = {u.name for u in settings(stack).users} | {"trino", "dagster"}
    assert set(users) == {f"dp-{stack}-{name}" for name in expected}
    assert {u["inputs"]["secret"] for u in users.values()} == {"[secret]"}
    attachments = {
        (a["inputs"]["userName"], a["inputs"]["policyName"])
        for a in render.of_type("minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment")
    }
    assert attachments == {(name, f"{name}-access") for name in users}


def test_minio_resources_use_the_stack_provider() -> None:
    """Every MinIO object goes through the one provider (its address: test_control_plane)."""
    for stack in STACKS:
        render = cached_render(stack)
        [provider] = render.of_type("pulumi:providers:minio")
        assert provider["inputs"]["minioPassword"] == "[secret]"
        for bucket in render.of_type("minio:index/s3Bucket:S3Bucket"):
            assert bucket["provider"] == provider["urn"]
