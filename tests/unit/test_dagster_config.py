"""The `dagster` section of a real stack file: bad values fail naming stack, key and expectation.

Each case edits one value of a real stack file's section and validates the whole stack,
as `dataplatform render` does; one case runs the real CLI to show the exit status 2
and the single error line a user sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.config_errors import Raw, cli_refusal, refusal


def _dagster(raw: Raw) -> Raw:
    return raw["dagster"]


BAD: list[tuple[str, str, Callable[[Raw], None], str]] = [
    (
        "two-daemons",
        "test",
        lambda raw: _dagster(raw).update(daemon={"replicas": 2}),
        r"data-platform:dagster\.daemon: daemon\.replicas must be 1, got 2",
    ),
    (
        "unpinned-location-image",
        "dev",
        lambda raw: _dagster(raw)["codeLocations"][0].update(image="ghcr.io/acme-data/p:latest"),
        r"data-platform:dagster\.codeLocations\[0\]\.image: .*pin an exact version",
    ),
    (
        "module-and-package",
        "prod",
        lambda raw: _dagster(raw)["codeLocations"][1].update(module="marts.defs"),
        r"data-platform:dagster\.codeLocations\[1\]: .*set exactly one of 'module' or 'package'",
    ),
    (
        "typo-in-run-queue",
        "dev",
        lambda raw: _dagster(raw)["runQueue"].update(maxConcurentRuns=3),
        r"data-platform:dagster\.runQueue\.maxConcurentRuns: unknown key",
    ),
    (
        "prod-without-webhook",
        "prod",
        lambda raw: _dagster(raw).pop("alerts"),
        r"dagster\.alerts\.slackWebhook is required in prod",
    ),
    (
        "prod-single-code-server",
        "prod",
        lambda raw: _dagster(raw)["codeLocations"][1].update(replicas=1),
        r"dagster\.codeLocations\[marts\]\.replicas must be at least 2 in prod",
    ),
    (
        "bucket-the-store-lacks",
        "test",
        lambda raw: _dagster(raw).update(buckets=[{"bucket": "platinum", "access": "read"}]),
        r"dagster needs bucket 'platinum', not in objectStore\.buckets",
    ),
    (
        "socket-group-root",
        "dev",
        lambda raw: _dagster(raw).update(engineSocketGid=0),
        r"data-platform:dagster\.engineSocketGid: Input should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize(
    ("stack", "mutate", "expected"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_bad_dagster_config_names_stack_key_and_expectation(
    stack: str, mutate: Callable[[Raw], None], expected: str
) -> None:
    assert re.search(expected, refusal(stack, mutate))


def test_the_cli_reports_a_bad_dagster_section_in_one_line_with_status_2(tmp_path: Path) -> None:
    stderr = cli_refusal(
        tmp_path, "test", lambda c: c["data-platform:dagster"].update(daemon={"replicas": 2})
    )
    assert "data-platform:dagster.daemon: daemon.replicas must be 1, got 2" in stderr
