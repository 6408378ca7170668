"""A consumer's stream need, as the ACL bindings Kafka gets: exactly these, nothing more."""

from __future__ import annotations

from components.contracts import StreamNeed
from components.kafka.access import acl_bindings, group_prefix


def _plain(consumer: str, need: StreamNeed) -> set[tuple[str, str, str, str, str]]:
    return {
        (
            b.principal_name,
            b.operation.value,
            b.resource_type.value,
            b.resource_name,
            b.pattern.value,
        )
        for b in acl_bindings(consumer, need)
    }


def test_readers_get_read_and_describe_and_their_own_groups() -> None:
    assert _plain("dagster", StreamNeed(read=("sales.orders",))) == {
        ("User:dagster", "Read", "Topic", "sales.orders", "Literal"),
        ("User:dagster", "Describe", "Topic", "sales.orders", "Literal"),
        ("User:dagster", "Read", "Group", "dagster-", "Prefixed"),
    }


def test_writers_get_write_and_describe_and_no_group() -> None:
    assert _plain("trino", StreamNeed(write=("audit.trino-queries",))) == {
        ("User:trino", "Write", "Topic", "audit.trino-queries", "Literal"),
        ("User:trino", "Describe", "Topic", "audit.trino-queries", "Literal"),
    }


def test_a_topic_read_and_written_is_described_once_and_nothing_else_is_granted() -> None:
    need = StreamNeed(read=("a.b", "c.d"), write=("a.b",))
    bindings = acl_bindings("trino", need)
    assert len(bindings) == len(set(bindings)) == 6
    assert {b.operation.value for b in bindings} == {"Read", "Write", "Describe"}
    assert {b.resource_name for b in bindings} == {"a.b", "c.d", group_prefix("trino")}
    assert {b.key for b in bindings} == {
        "trino-read-topic-a.b",
        "trino-describe-topic-a.b",
        "trino-write-topic-a.b",
        "trino-read-topic-c.d",
        "trino-describe-topic-c.d",
        "trino-read-group-prefix-trino",
    }


def test_no_need_no_grant() -> None:
    assert acl_bindings("idle", StreamNeed()) == ()
