"""Stack config validation: good stacks load; bad ones fail naming the stack, key path and expectation."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import ConfigError, PlatformConfig, parse_config
from ops.render import render_stack, stack_file, stack_sections
from tests.support.config_errors import refusal

Raw = dict[str, Any]


def raw_config(stack: str) -> Raw:
    """A stack file's config sections, decoded, keyed without the project prefix."""
    return stack_sections(stack_file(stack))


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_every_stack_file_is_valid(stack: str) -> None:
    config = parse_config(stack, raw_config(stack))
    assert isinstance(config, PlatformConfig)
    assert config.platform.environment == stack


def test_config_is_frozen() -> None:
    config = parse_config("dev", raw_config("dev"))
    with pytest.raises(Exception, match="frozen"):
        config.platform.owner = "someone-else"  # type: ignore[misc]


def _delete(*path: str | int) -> Callable[[Raw], None]:
    def mutate(raw: Raw) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return mutate


def _set(value: Any, *path: str | int) -> Callable[[Raw], None]:
    def mutate(raw: Raw) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return mutate


def _bucket(raw: Raw, name: str) -> Raw:
    return next(b for b in raw["objectStore"]["buckets"] if b["name"] == name)


BAD_CONFIGS: list[tuple[str, str, Callable[[Raw], None], str]] = [
    (
        "missing-section",
        "dev",
        _delete("objectStore"),
        r"data-platform:objectStore: required key is missing",
    ),
    (
        "missing-key",
        "dev",
        _delete("platform", "owner"),
        r"data-platform:platform\.owner: required key is missing",
    ),
    (
        "wrong-type",
        "dev",
        _set("lots", "objectStore", "buckets", 0, "lifecycle", 0, "expireDays"),
        r"objectStore\.buckets\[0\]\.lifecycle\[0\]\.expireDays: .*integer.*'lots'",
    ),
    (
        "unknown-target",
        "dev",
        _set("mainframe", "platform", "target"),
        r"platform\.target: Input should be 'docker' or 'kubernetes'",
    ),
    (
        "bad-bucket-name",
        "dev",
        _set("Gold_Layer", "objectStore", "buckets", 2, "name"),
        r"buckets\[2\]\.name: String should match pattern",
    ),
    (
        "negative-size",
        "test",
        _set("-5Gi", "objectStore", "volumeSize"),
        r"objectStore\.volumeSize: String should match pattern.*'-5Gi'",
    ),
    (
        "zero-size",
        "test",
        _set("0Gi", "objectStore", "volumeSize"),
        r"objectStore\.volumeSize: volume size must be positive",
    ),
    (
        "lifecycle-days-out-of-range",
        "prod",
        _set(40000, "objectStore", "buckets", 0, "lifecycle", 0, "expireDays"),
        r"lifecycle\[0\]\.expireDays: Input should be less than or equal to 36500",
    ),
    (
        "latest-image",
        "prod",
        _set("quay.io/minio/minio:latest", "objectStore", "image"),
        r"objectStore\.image: image .* floating tag 'latest'",
    ),
    (
        "untagged-image",
        "prod",
        _set("quay.io/minio/minio", "objectStore", "image"),
        r"objectStore\.image: image .* has no tag",
    ),
    (
        "unknown-key",
        "dev",
        _set(3, "objectStore", "replicaz"),
        r"objectStore\.replicaz: unknown key",
    ),
    (
        "request-above-limit",
        "test",
        _set("8", "objectStore", "resources", "cpuRequest"),
        r"objectStore\.resources: cpuRequest 8 exceeds cpuLimit 2",
    ),
    (
        "bad-cpu-quantity",
        "test",
        _set("two", "objectStore", "resources", "cpuLimit"),
        r"resources\.cpuLimit: String should match pattern",
    ),
    (
        "bad-owner-label",
        "dev",
        _set("Data Team", "platform", "owner"),
        r"platform\.owner: String should match pattern",
    ),
    (
        "missing-required-bucket",
        "dev",
        lambda raw: raw["objectStore"].update(
            buckets=[b for b in raw["objectStore"]["buckets"] if b["name"] != "audit"]
        ),
        r"objectStore: buckets \['audit'\] are required",
    ),
    (
        "audit-bucket-expires",
        "prod",
        lambda raw: _bucket(raw, "audit")["lifecycle"].append({"id": "purge", "expireDays": 30}),
        r"the audit bucket keeps its objects",
    ),
    (
        "locking-without-versioning",
        "prod",
        lambda raw: _bucket(raw, "audit").update(versioning=False),
        r"bucket 'audit': objectLocking needs versioning",
    ),
    (
        "empty-lifecycle-rule",
        "dev",
        _set([{"id": "noop"}], "objectStore", "buckets", 0, "lifecycle"),
        r"lifecycle rule 'noop' sets neither expireDays nor noncurrentExpireDays",
    ),
    (
        "grant-unknown-bucket",
        "dev",
        lambda raw: raw["objectStore"].update(
            users=[{"name": "ops", "grants": [{"bucket": "platinum", "access": "read"}]}]
        ),
        r"user 'ops' is granted unknown bucket 'platinum'",
    ),
    (
        "bad-access-level",
        "dev",
        lambda raw: raw["objectStore"].update(
            users=[{"name": "ops", "grants": [{"bucket": "gold", "access": "admin"}]}]
        ),
        r"users\[0\]\.grants\[0\]\.access: Input should be 'read', 'read-write' or 'write-only'",
    ),
    (
        "docker-target-without-docker-section",
        "dev",
        _delete("docker"),
        r"target is 'docker' but the 'docker' section is missing",
    ),
    (
        "kubernetes-target-with-docker-section",
        "test",
        _set({"host": "tcp://x:2375"}, "docker"),
        r"remove the 'docker' section",
    ),
    (
        "docker-admin-not-loopback",
        "dev",
        _set("0.0.0.0", "adminAccess", "minio", "host"),
        r"adminAccess\.minio\.host must be 127\.0\.0\.1 on docker",
    ),
    (
        "environment-of-another-stack",
        "dev",
        _set("prod", "platform", "environment"),
        r"data-platform:platform\.environment: expected 'dev' for stack 'dev' .*got 'prod'",
    ),
    (
        "prod-environment-below-prod-tier",
        "prod",
        _set("dev", "platform", "tier"),
        r"data-platform:platform\.tier: environment 'prod' needs tier 'prod', got 'dev'",
    ),
    (
        "docker-without-admin-port",
        "dev",
        _delete("adminAccess"),
        r"adminAccess\.minio\.port is required on docker",
    ),
    (
        "admin-cidr-not-a-network",
        "test",
        lambda raw: raw["kubernetes"].update(adminCidrs=["10.30.8.0/33"]),
        r"kubernetes\.adminCidrs\[0\]: expected a network such as 10\.40\.12\.0/24",
    ),
    (
        "kubernetes-without-admin-cidrs",
        "test",
        lambda raw: raw["kubernetes"].pop("adminCidrs"),
        r"kubernetes\.adminCidrs is required",
    ),
    (
        "kubernetes-without-api-server-cidrs",
        "prod",
        lambda raw: raw["kubernetes"].pop("apiServerCidrs"),
        r"kubernetes\.apiServerCidrs is required: dagster calls the Kubernetes API",
    ),
    (
        "admin-port-out-of-range",
        "dev",
        _set(70000, "adminAccess", "minio", "port"),
        r"adminAccess\.minio\.port: Input should be less than or equal to 65535",
    ),
]


@pytest.mark.parametrize(
    ("stack", "mutate", "expected"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_names_stack_key_and_expectation(
    stack: str, mutate: Callable[[Raw], None], expected: str
) -> None:
    message = refusal(stack, mutate)
    assert any(re.search(expected, line) for line in message.splitlines()), message


def test_at_least_twelve_distinct_bad_configs() -> None:
    assert len({case[0] for case in BAD_CONFIGS}) >= 12


def test_bad_stack_file_fails_before_any_resource(tmp_path: Path) -> None:
    document = yaml.safe_load(stack_file("prod").read_text())
    document["config"]["data-platform:objectStore"]["image"] = "quay.io/minio/minio:latest"
    broken = tmp_path / "Pulumi.prod.yaml"
    broken.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError, match=r"data-platform:objectStore\.image"):
        render_stack("prod", config_file=broken)


def test_all_errors_are_reported_at_once() -> None:
    raw = copy.deepcopy(raw_config("dev"))
    _set("latest-and-greatest", "objectStore", "image")(raw)
    _delete("platform", "costCenter")(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config("dev", raw)
    assert len(caught.value.problems) == 2


PINNED = [
    ("trinodb/trino:483", "483"),
    ("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "RELEASE.2025-09-07T16-13-09Z"),
    ("registry.internal:5000/team/postgres:17.6-standard-bookworm", "17.6-standard-bookworm"),
    ("ghcr.io/cloudnative-pg/postgresql@sha256:" + "a" * 64, "digest"),
    ("trinodb/trino:483@sha256:" + "b" * 64, "483"),
]
UNPINNED = [
    ("trinodb/trino", "has no tag"),
    ("registry.internal:5000/team/postgres", "has no tag"),
    ("trinodb/trino:latest", "floating tag 'latest'"),
    ("grafana/grafana:main", "floating tag 'main'"),
    ("Trino/Trino:483", "not an image reference"),
    ("trinodb/trino:483@sha256:short", "not an image reference"),
]


@pytest.mark.parametrize(("image", "version"), PINNED)
def test_pinned_images_are_accepted_and_versioned(image: str, version: str) -> None:
    from pydantic import TypeAdapter

    from components.common import PinnedImage, image_version

    assert TypeAdapter(PinnedImage).validate_python(image) == image
    assert image_version(image) == version


@pytest.mark.parametrize(("image", "reason"), UNPINNED)
def test_unpinned_images_are_refused(image: str, reason: str) -> None:
    from pydantic import TypeAdapter, ValidationError

    from components.common import PinnedImage

    with pytest.raises(ValidationError, match=re.escape(reason)):
        TypeAdapter(PinnedImage).validate_python(image)


@pytest.mark.parametrize(
    ("stack", "source", "accepted"),
    [
        ("prod-dr", "prod", True),  # a DR drill of prod: environment prod, tier prod
        ("dev-alice", "dev", True),  # a personal dev stack
        ("production", "prod", False),  # 'prod' is a prefix, not a '-' token
        ("test", "prod", False),
        ("dev", "test", False),
    ],
)
def test_a_stack_holds_only_its_own_environment(stack: str, source: str, accepted: bool) -> None:
    """`environment: prod` in Pulumi.dev.yaml used to tag dev resources as prod."""
    raw = raw_config(source)
    if accepted:
        assert parse_config(stack, raw).platform.environment == source
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(stack, raw)
    [problem] = caught.value.problems
    assert problem.startswith("data-platform:platform.environment: expected ")
    assert f"for stack {stack!r}" in problem and f"got {source!r}" in problem


def test_environment_mismatch_is_reported_with_other_problems() -> None:
    raw = copy.deepcopy(raw_config("dev"))
    _delete("platform", "costCenter")(raw)
    with pytest.raises(ConfigError) as caught:
        parse_config("test", raw)
    assert [p.split(":")[1] for p in caught.value.problems] == [
        "platform.costCenter",
        "platform.environment",
    ]


def test_a_service_section_left_out_is_not_in_the_stack() -> None:
    """Tier defaults fill in a section the stack writes, never one it leaves out."""
    from infra.config import parse_config
    from ops.render import stack_sections

    raw = dict(stack_sections(Path("Pulumi.test.yaml")))
    for section in ("dagster", "marquez"):
        raw.pop(section, None)
    raw["trino"] = {**raw["trino"], "lineage": False}
    config = parse_config("test", raw)
    assert config.marquez is None and config.dagster is None
