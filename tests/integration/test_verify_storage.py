"""`verify-storage` against a real S3 API server on localhost (moto_server), not a stub.

The fixture plays the deployed environment: it creates each stack's buckets with the
versioning and lifecycle rules the config declares, through boto3. The check must then
pass, and each kind of drift (versioning off, a rule gone or changed, an expiring audit
bucket, an anonymous bucket policy, a missing bucket) must be reported.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.config import PlatformConfig, parse_config
from ops.verify_storage import verify_object_store
from tests.unit.test_config import raw_config

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free loopback port, for this module only."""
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("moto_server did not start")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 client for the local server, with throwaway credentials."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    # A fresh server state for every test.
    urllib.request.urlopen(urllib.request.Request(f"{s3_endpoint}/moto-api/reset", method="POST"))
    return boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")


def _deploy(client: Any, config: PlatformConfig) -> None:
    """Create the buckets as a deployed stack would have them."""
    for bucket in config.object_store.buckets:
        name = config.platform.physical_name(bucket.name)
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=bucket.object_locking)
        client.put_bucket_versioning(
            Bucket=name,
            VersioningConfiguration={"Status": "Enabled" if bucket.versioning else "Suspended"},
        )
        rules = []
        for rule in bucket.lifecycle:
            entry: dict[str, Any] = {
                "ID": rule.id,
                "Status": "Enabled",
                "Filter": {"Prefix": rule.prefix},
            }
            if rule.expire_days:
                entry["Expiration"] = {"Days": rule.expire_days}
            if rule.noncurrent_expire_days:
                entry["NoncurrentVersionExpiration"] = {
                    "NoncurrentDays": rule.noncurrent_expire_days
                }
            rules.append(entry)
        client.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": rules}
        )


def _rule(rule_id: str, **action: Any) -> dict[str, Any]:
    """An enabled S3 lifecycle rule over the whole bucket."""
    return {"ID": rule_id, "Status": "Enabled", "Filter": {"Prefix": ""}, **action}


def _config(stack: str) -> PlatformConfig:
    return parse_config(stack, raw_config(stack))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_deployed_buckets_match_config(s3: Any, stack: str) -> None:
    config = _config(stack)
    _deploy(s3, config)
    assert verify_object_store(s3, config.platform, config.object_store) == []


def test_versioning_drift_is_reported(s3: Any) -> None:
    config = _config("prod")
    _deploy(s3, config)
    s3.put_bucket_versioning(Bucket="dp-prod-gold", VersioningConfiguration={"Status": "Suspended"})
    assert verify_object_store(s3, config.platform, config.object_store) == [
        "dp-prod-gold: versioning is Suspended, config says Enabled"
    ]


def test_lifecycle_drift_is_reported(s3: Any) -> None:
    config = _config("prod")
    _deploy(s3, config)
    s3.delete_bucket_lifecycle(Bucket="dp-prod-bronze")
    s3.put_bucket_lifecycle_configuration(
        Bucket="dp-prod-silver",
        LifecycleConfiguration={
            "Rules": [
                _rule("expire-cleansed", Expiration={"Days": 1}),
                _rule("expire-old-versions", NoncurrentVersionExpiration={"NoncurrentDays": 30}),
            ]
        },
    )
    problems = verify_object_store(s3, config.platform, config.object_store)
    assert "dp-prod-bronze: lifecycle rule 'expire-raw' is missing" in problems
    assert (
        "dp-prod-silver: rule 'expire-cleansed' expires after 1 days, config says 365" in problems
    )
    assert len(problems) == 3


def test_expiring_audit_bucket_is_reported(s3: Any) -> None:
    config = _config("dev")
    _deploy(s3, config)
    s3.put_bucket_lifecycle_configuration(
        Bucket="dp-dev-audit",
        LifecycleConfiguration={
            "Rules": [
                _rule("expire-old-versions", NoncurrentVersionExpiration={"NoncurrentDays": 30}),
                _rule("purge", Expiration={"Days": 5}),
            ]
        },
    )
    problems = verify_object_store(s3, config.platform, config.object_store)
    assert problems == [
        "dp-dev-audit: the audit bucket must never expire objects, rules ['purge'] do"
    ]


def test_anonymous_bucket_policy_and_missing_bucket_are_reported(s3: Any) -> None:
    config = _config("dev")
    _deploy(s3, config)
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "public-read",
                "Effect": "Allow",
                "Principal": {"AWS": ["*"]},
                "Action": ["s3:GetObject"],
                "Resource": ["arn:aws:s3:::dp-dev-gold/*"],
            }
        ],
    }
    s3.put_bucket_policy(Bucket="dp-dev-gold", Policy=json.dumps(public))
    s3.delete_bucket_lifecycle(Bucket="dp-dev-backups")
    s3.delete_bucket(Bucket="dp-dev-backups")
    problems = verify_object_store(s3, config.platform, config.object_store)
    assert "dp-dev-gold: bucket policy allows anonymous access (public-read)" in problems
    assert any(p.startswith("dp-dev-backups: bucket is not reachable") for p in problems)


def test_versioned_objects_survive_overwrite_as_the_backups_rely_on(s3: Any) -> None:
    """Versioning as configured in prod really keeps the previous object (restore path)."""
    config = _config("prod")
    _deploy(s3, config)
    s3.put_object(Bucket="dp-prod-backups", Key="pg/warehouse.dump", Body=b"monday")
    s3.put_object(Bucket="dp-prod-backups", Key="pg/warehouse.dump", Body=b"tuesday")
    versions = s3.list_object_versions(Bucket="dp-prod-backups", Prefix="pg/")["Versions"]
    bodies = sorted(
        s3.get_object(Bucket="dp-prod-backups", Key="pg/warehouse.dump", VersionId=v["VersionId"])[
            "Body"
        ].read()
        for v in versions
    )
    assert bodies == [b"monday", b"tuesday"]
