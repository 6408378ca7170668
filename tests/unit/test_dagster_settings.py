"""Dagster settings as a stack writes them: secure defaults, and clear errors for bad config."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from components.dagster.settings import (
    DAGSTER_IMAGE,
    DAGSTER_VERSION,
    DagsterSettings,
)
from components.runtime.stack import Tier

LOCATION = {"name": "pipelines", "image": "registry.example/pipelines:1.4.2", "module": "pipelines"}


def settings(**overrides: Any) -> DagsterSettings:
    """Minimal valid stack config (camelCase, as in Pulumi.<stack>.yaml) with overrides."""
    return DagsterSettings.model_validate({"codeLocations": [LOCATION], **overrides})


PROD_READY = {
    "codeLocations": [{**LOCATION, "replicas": 2}],
    "alerts": {"slackWebhook": "https://hooks.slack.example/services/T0/B0/x"},
}


def test_defaults_are_the_production_ones() -> None:
    dagster = settings(**PROD_READY)
    assert dagster.image == DAGSTER_IMAGE == f"dagster/dagster-k8s:{DAGSTER_VERSION}"
    assert dagster.daemon.replicas == 1
    assert dagster.webserver.replicas == 2
    assert dagster.run_monitoring.enabled
    assert dagster.run_queue.max_concurrent_runs == 10
    assert dagster.retention.schedule.failure >= 30
    assert [(g.bucket, g.access.value) for g in dagster.buckets] == [
        ("bronze", "read-write"),
        ("silver", "read-write"),
        ("gold", "read-write"),
    ]
    assert dagster.tier_problems(Tier.PROD) == []


def test_prod_needs_a_slack_webhook_and_two_servers_per_location() -> None:
    problems = settings().tier_problems(Tier.PROD)
    assert any(p.startswith("dagster.alerts.slackWebhook is required in prod") for p in problems)
    assert "dagster.codeLocations[pipelines].replicas must be at least 2 in prod" in " ".join(
        problems
    )
    assert settings().tier_problems(Tier.DEV) == []


def test_the_webhook_never_shows_in_repr_or_errors() -> None:
    hook = "https://hooks.slack.example/services/T0/B0/s3cr3t"
    dagster = settings(alerts={"slackWebhook": hook})
    assert hook not in repr(dagster) and hook not in str(dagster.alerts)
    assert dagster.alerts.slack_webhook is not None
    assert dagster.alerts.slack_webhook.get_secret_value() == hook
    with pytest.raises(ValidationError, match=r"alerts\.slackWebhook is empty"):
        settings(alerts={"slackWebhook": "   "})


def test_tier_defaults_loosen_dev_only() -> None:
    assert DagsterSettings.tier_defaults(Tier.PROD) == {}
    dev = DagsterSettings.tier_defaults(Tier.DEV)
    assert dev["webserver"]["replicas"] == 1
    merged = DagsterSettings.model_validate({**dev, "codeLocations": [LOCATION]})
    assert merged.tier_problems(Tier.DEV) == []


def test_a_bucket_granted_twice_is_refused() -> None:
    twice = [{"bucket": "gold", "access": "read"}, {"bucket": "gold", "access": "read-write"}]
    with pytest.raises(ValidationError, match=r"buckets: each bucket once"):
        settings(buckets=twice)


def test_a_bad_topic_name_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"stream\.read\.0"):
        settings(stream={"read": ["Sales Orders"]})


def test_two_daemons_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"daemon.replicas must be 1, got 2: .*exactly one"):
        settings(daemon={"replicas": 2})


@pytest.mark.parametrize("limit", [0, -1])
def test_zero_or_unlimited_concurrency_is_refused(limit: int) -> None:
    with pytest.raises(
        ValidationError, match=r"maxConcurrentRuns[\s\S]*greater than or equal to 1"
    ):
        settings(runQueue={"maxConcurrentRuns": limit})


def test_a_tag_limit_of_zero_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"tagConcurrencyLimits\.0\.limit"):
        settings(runQueue={"tagConcurrencyLimits": [{"key": "team", "limit": 0}]})


def test_a_tag_limit_above_the_run_limit_is_refused() -> None:
    queue = {"maxConcurrentRuns": 3, "tagConcurrencyLimits": [{"key": "team", "limit": 5}]}
    with pytest.raises(ValidationError, match="exceeds maxConcurrentRuns 3, so it would never"):
        settings(runQueue=queue)


def test_duplicate_tag_limits_are_refused() -> None:
    limits = [{"key": "team", "limit": 1}, {"key": "team", "limit": 2}]
    with pytest.raises(ValidationError, match="duplicate limit for tag 'team'"):
        settings(runQueue={"tagConcurrencyLimits": limits})


def test_a_tag_limit_cannot_have_a_value_and_apply_per_value() -> None:
    limit = {"key": "team", "value": "a", "perUniqueValue": True, "limit": 1}
    with pytest.raises(ValidationError, match="exclude each other"):
        settings(runQueue={"tagConcurrencyLimits": [limit]})


@pytest.mark.parametrize(
    "image", ["dagster/dagster-k8s", "dagster/dagster-k8s:latest", "registry.example/code:main"]
)
def test_unpinned_images_are_refused(image: str) -> None:
    with pytest.raises(ValidationError, match="pin an exact version"):
        settings(image=image)
    with pytest.raises(ValidationError, match=r"codeLocations\.0\.image"):
        settings(codeLocations=[{**LOCATION, "image": image}])


def test_duplicate_location_names_are_refused() -> None:
    second = {**LOCATION, "module": "other"}
    with pytest.raises(ValidationError, match=r"duplicate location names \['pipelines'\]"):
        settings(codeLocations=[LOCATION, second])


def test_a_stack_needs_a_code_location() -> None:
    with pytest.raises(ValidationError, match="codeLocations"):
        DagsterSettings.model_validate({"codeLocations": []})


@pytest.mark.parametrize("entry", [{}, {"module": "a", "package": "b"}])
def test_a_location_names_exactly_one_module_or_package(entry: dict[str, str]) -> None:
    location = {"name": "pipelines", "image": "registry.example/pipelines:1.4.2", **entry}
    with pytest.raises(ValidationError, match="set exactly one of 'module' or 'package'"):
        settings(codeLocations=[location])


def test_a_location_name_must_be_a_dns_label() -> None:
    with pytest.raises(ValidationError, match=r"codeLocations\.0\.name"):
        settings(codeLocations=[{**LOCATION, "name": "Pipelines_1"}])


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_retention_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(ValidationError, match=r"retention\.sensor\.skipped"):
        settings(retention={"sensor": {"skipped": days}})


def test_run_monitoring_bounds_are_checked() -> None:
    with pytest.raises(ValidationError, match=r"runMonitoring\.pollIntervalSeconds"):
        settings(runMonitoring={"pollIntervalSeconds": 1})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"runQueue\.maxConcurentRuns"):
        settings(runQueue={"maxConcurentRuns": 3})


def test_prod_refuses_what_dev_may_loosen() -> None:
    loose = settings(
        webserver={"replicas": 1},
        runMonitoring={"enabled": False},
        retention={"schedule": {"failure": 7}},
    )
    assert loose.tier_problems(Tier.DEV) == []
    assert loose.tier_problems(Tier.TEST) == [
        "dagster.runMonitoring.enabled must be true in a test stack"
    ]
    prod = loose.tier_problems(Tier.PROD)
    assert "dagster.webserver.replicas must be at least 2 in prod" in prod
    assert any(p.startswith("dagster.retention.schedule.failure") for p in prod)
    assert not any(p.startswith("dagster.retention.sensor") for p in prod)
