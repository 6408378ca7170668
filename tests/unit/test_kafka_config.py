"""Bad `data-platform:kafka` sections: refused before any resource, naming stack, key and
what was expected; from the command line, exit status 2 and no traceback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.config_errors import Raw, cli_refusal, refusal


def _without_topic(name: str) -> Callable[[Raw], None]:
    def mutate(raw: Raw) -> None:
        raw["kafka"]["topics"] = [t for t in raw["kafka"]["topics"] if t["name"] != name]

    return mutate


BAD_KAFKA: list[tuple[str, str, Callable[[Raw], None], str]] = [
    (
        "prod-min-insync-1",
        "prod",
        lambda r: r["kafka"].update(durability={"minInsyncReplicas": 1}),
        r"kafka\.durability\.minInsyncReplicas must be at least 2 in a prod stack, got 1",
    ),
    (
        "prod-unclean-election",
        "prod",
        lambda r: r["kafka"].update(durability={"uncleanLeaderElection": True}),
        r"kafka\.durability\.uncleanLeaderElection must be false in a prod stack",
    ),
    (
        "prod-plaintext-clients",
        "prod",
        lambda r: r["kafka"].update(listeners={"clientAuthentication": "none", "tls": False}),
        r"kafka\.listeners\.clientAuthentication must be 'scram-sha-512' or 'mtls' in a prod",
    ),
    (
        "test-no-tls",
        "test",
        lambda r: r["kafka"].update(listeners={"tls": False}),
        r"kafka\.listeners\.tls must be true in a test stack",
    ),
    (
        "topic-name",
        "dev",
        lambda r: r["kafka"]["topics"][0].update(name="Sales_Orders"),
        r"data-platform:kafka\.topics\[0\]\.name: String should match pattern",
    ),
    (
        "topic-owner-missing",
        "prod",
        lambda r: r["kafka"]["topics"][1].pop("owner"),
        r"data-platform:kafka\.topics\[1\]\.owner: required key is missing",
    ),
    (
        "replication-beyond-brokers",
        "dev",
        lambda r: r["kafka"]["topics"][0].update(replicationFactor=3),
        r"kafka\.topics\[sales\.orders\]\.replicationFactor 3 exceeds the 1 broker\(s\)",
    ),
    (
        "consumer-topic-undeclared",
        "prod",
        _without_topic("sales.orders"),
        r"\w+ reads or writes topics \['sales\.orders'\] that kafka\.topics does not declare",
    ),
    (
        "docker-admin-port-missing",
        "dev",
        lambda r: r["adminAccess"].pop("kafka"),
        r"adminAccess\.kafka\.port is required on docker",
    ),
    (
        "unknown-key",
        "test",
        lambda r: r["kafka"].update(replicationFactor=3),
        r"data-platform:kafka\.replicationFactor: unknown key",
    ),
]


@pytest.mark.parametrize(
    ("stack", "mutate", "expected"), [c[1:] for c in BAD_KAFKA], ids=[c[0] for c in BAD_KAFKA]
)
def test_bad_kafka_section_names_stack_key_and_expectation(
    stack: str, mutate: Callable[[Raw], None], expected: str
) -> None:
    message = refusal(stack, mutate)
    assert any(re.search(expected, line) for line in message.splitlines()), message


def test_a_bad_kafka_section_ends_the_command_with_status_2(tmp_path: Path) -> None:
    stderr = cli_refusal(
        tmp_path,
        "prod",
        lambda c: c["data-platform:kafka"].update(durability={"minInsyncReplicas": 1}),
    )
    assert "kafka.durability.minInsyncReplicas must be at least 2 in a prod stack" in stderr
