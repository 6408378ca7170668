"""The `marquez` section of each stack file: what every stack gets from its tier, and the
plain errors (stack, key, what was expected; exit status 2) for a bad section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from components.marquez.settings import MarquezSettings
from components.runtime.stack import Tier
from infra.config import with_tier_defaults
from ops.render import load_stack_config
from tests.support.config_errors import cli_refusal, refusal
from tests.unit.test_config import raw_config


@pytest.mark.parametrize(
    ("stack", "replicas", "days", "ui_port"),
    [("dev", 1, 7, 13300), ("test", 1, 14, 3000), ("prod", 2, 90, 3000)],
)
def test_every_stack_runs_marquez_with_its_tiers_shape(
    stack: str, replicas: int, days: int, ui_port: int
) -> None:
    settings = load_stack_config(stack).marquez
    assert settings is not None, f"Pulumi.{stack}.yaml enables Marquez"
    assert (settings.api_replicas, settings.web_replicas) == (replicas, replicas)
    assert settings.retention.retention_days == days
    assert settings.web_admin_host_port == ui_port
    assert settings.job_namespace(stack) == f"dataplatform-{stack}"


def test_the_dev_stack_file_overrides_only_what_it_names() -> None:
    section = raw_config("dev")["marquez"]
    assert set(section) == {"apiResources"}
    merged = with_tier_defaults(raw_config("dev"))["marquez"]
    assert merged["retention"] == {"retentionDays": 7}  # from the tier
    assert merged["apiResources"]["memoryLimit"] == "768Mi"  # from the stack file


def test_tier_defaults_are_a_fresh_copy_each_time() -> None:
    MarquezSettings.tier_defaults(Tier.DEV)["retention"]["retentionDays"] = 1
    assert MarquezSettings.tier_defaults(Tier.DEV)["retention"] == {"retentionDays": 7}


BAD_SECTIONS: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "prod-single-api-short-retention",
        "prod",
        {"apiReplicas": 1, "retention": {"retentionDays": 7}},
        r"  - data-platform:marquez\.apiReplicas must be at least 2 in a prod stack, got 1\n"
        r"  - data-platform:marquez\.retention\.retentionDays must be at least 30 in a prod "
        r"stack, got 7",
    ),
    (
        "zero-retention",
        "dev",
        {"retention": {"retentionDays": 0}},
        r"data-platform:marquez\.retention\.retentionDays: Input should be greater than or "
        r"equal to 1 \(got 0\)",
    ),
    (
        "misplaced-key",
        "test",
        {"retentionDays": 30},
        r"data-platform:marquez\.retentionDays: unknown key",
    ),
    (
        "web-version-mismatch",
        "test",
        {"webImage": "marquezproject/marquez-web:0.50.0"},
        r"marquez\.image and marquez\.webImage must carry the same version",
    ),
    (
        "privileged-ui-port",
        "dev",
        {"webAdminHostPort": 80},
        r"data-platform:marquez\.webAdminHostPort: Input should be greater than or equal to 1024",
    ),
]


@pytest.mark.parametrize(
    ("stack", "section", "expected"),
    [c[1:] for c in BAD_SECTIONS],
    ids=[c[0] for c in BAD_SECTIONS],
)
def test_a_bad_marquez_section_names_stack_key_and_expectation(
    stack: str, section: dict[str, Any], expected: str
) -> None:
    assert re.search(expected, refusal(stack, lambda raw: raw.update(marquez=section)))


def test_render_refuses_a_bad_marquez_section_with_exit_status_2(tmp_path: Path) -> None:
    stderr = cli_refusal(
        tmp_path, "prod", lambda c: c.update({"data-platform:marquez": {"apiReplicas": 1}})
    )
    assert "marquez.apiReplicas must be at least 2 in a prod stack, got 1" in stderr
