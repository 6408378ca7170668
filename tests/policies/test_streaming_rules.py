"""Kafka rules (policies/rules/streaming.py) on any resource and on the real renders.

The rules read server.properties wherever it is delivered, with a real Java-properties
parser, and the env form of the apache/kafka image; the real stacks' Kafka nodes, topics
and clients pass, and break the way an operator would break them.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ops.check import POLICY_CONFIG_DIR, check_render
from tests.conftest import cached_render, render_json
from tests.policies.conftest import (
    KAFKA_BROKER,
    LABELS,
    Resource,
    baseline,
    find,
    prod_config,
    resource,
)

KAFKA_POLICIES = (
    "kafka-broker-durability",
    "kafka-topic-durability",
    "kafka-no-plaintext-listeners",
    "kafka-listeners-authenticated",
    "kafka-authorizer-deny-by-default",
    "kafka-no-auto-topic-creation",
    "kafka-topic-classification-owner",
)


def _fired(result: Any, policy: str) -> list[str]:
    return [v.message for v in result.violations if v.policy == policy]


def _with_file(name: str, content: str) -> list[Resource]:
    stack = copy.deepcopy(baseline())
    find(stack, "kafka-files")["inputs"]["data"][name] = content
    return stack


def test_continued_and_escaped_lines_are_read_as_kafka_reads_them(evaluate) -> None:
    """A protocol map continued over lines with `\\` and `\\:` escapes still names PLAINTEXT."""
    broken = KAFKA_BROKER.replace(
        "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL",
        "listener.security.protocol.map = CLIENT\\:SASL_SSL,\\\n    INTERNAL\\:PLAINTEXT,\\\n"
        "    CONTROLLER\\:SSL",
    )
    assert broken != KAFKA_BROKER
    result = evaluate(_with_file("etc-kafka-broker-server.properties", broken))
    assert any(
        "listener INTERNAL (listeners) speaks PLAINTEXT" in m
        for m in _fired(result, "kafka-no-plaintext-listeners")
    ), result.format()
    # A comment line that merely mentions a key is no setting.
    result = evaluate(_with_file("extra-server.properties", "# node.id=1\n! process.roles=x\n"))
    assert result.violations == [], result.format()


def test_apache_kafka_env_form_is_read(evaluate) -> None:
    """`KAFKA_LISTENER_SECURITY_PROTOCOL_MAP` is `listener.security.protocol.map` (the
    image's mapping: `_` -> `.`, `__` -> `_`, `___` -> `-`)."""
    stack = copy.deepcopy(baseline())
    env = {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_LISTENERS": "CLIENT://:9092,CONTROLLER://:9093",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CLIENT:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_DEFAULT_REPLICATION_FACTOR": "3",
        "KAFKA_MIN_INSYNC_REPLICAS": "2",
        "KAFKA_AUTHORIZER_CLASS_NAME": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    container = find(stack, "web")["inputs"]["spec"]["template"]["spec"]["containers"][0]
    container["env"] += [{"name": k, "value": v} for k, v in env.items()]
    result = evaluate(stack)
    assert {v.policy for v in result.violations} == {"kafka-no-plaintext-listeners"}
    assert "listener CONTROLLER (listeners) speaks SASL_PLAINTEXT" in result.violations[0].message


def test_topic_without_min_isr_inherits_the_brokers_default(evaluate) -> None:
    stack = copy.deepcopy(baseline())
    find(stack, "sales.orders")["inputs"]["config"].pop("min.insync.replicas")
    assert evaluate(stack).violations == []
    data = find(stack, "kafka-files")["inputs"]["data"]
    data["etc-kafka-broker-server.properties"] += "min.insync.replicas=1\n"
    fired = {v.policy for v in evaluate(stack).violations}
    assert fired == {"kafka-topic-durability", "kafka-broker-durability"}


def test_trino_catalog_deferring_to_client_files_is_judged_by_those_files(evaluate) -> None:
    """Trino's kafka connector reads security.protocol from kafka.config.resources."""
    catalog = (
        "connector.name=kafka\nkafka.nodes=kafka:9092\nkafka.config.resources=/etc/t/c.properties\n"
    )
    stack = _with_file("etc-trino-catalog-stream.properties", catalog)
    assert evaluate(stack).violations == []
    # The file it names, visible in a Secret (a real preview shows its plaintext), is judged.
    stack.append(
        resource(
            "kubernetes:core/v1:Secret",
            "trino-kafka-client",
            {
                "metadata": {
                    "name": "trino-kafka-client",
                    "namespace": "dp-prod",
                    "labels": LABELS,
                },
                "stringData": {"etc-t-c.properties": "security.protocol=SASL_PLAINTEXT\n"},
            },
        )
    )
    [message] = _fired(evaluate(stack), "kafka-no-plaintext-listeners")
    assert "etc-t-c.properties" in message and "SASL_PLAINTEXT" in message


def test_docker_upload_of_server_properties_is_read(evaluate) -> None:
    stack = copy.deepcopy(baseline())
    find(stack, "box")["inputs"]["uploads"].append(
        {"file": "/etc/kafka/server.properties", "content": "node.id=0\nprocess.roles=broker\n"}
    )
    fired = {v.policy: v.message for v in evaluate(stack).violations}
    assert set(fired) == {
        "kafka-broker-durability",
        "kafka-authorizer-deny-by-default",
        "kafka-no-auto-topic-creation",
    }
    assert "min.insync.replicas unset (Kafka's default 1) < 2" in fired["kafka-broker-durability"]


def test_unknown_kafka_values_do_not_crash(evaluate) -> None:
    stack = copy.deepcopy(baseline())
    find(stack, "kafka-files")["inputs"]["data"]["etc-kafka-broker-server.properties"] = "[unknown]"
    topic = find(stack, "sales.orders")["inputs"]
    topic.update(replicationFactor="[unknown]", config="[unknown]")
    find(stack, "topic-sales.orders")["inputs"].update(
        classification="[unknown]", owner="[unknown]"
    )
    find(stack, "kafka-provider")["inputs"]["tlsEnabled"] = "[unknown]"
    result = evaluate(stack)
    # The broker file is unknown, so the topic's absent min.insync.replicas cannot be vouched
    # for by the brokers; nothing else can be judged.
    assert {v.policy for v in result.violations} <= {"kafka-topic-durability"}, result.format()


# --- the real renders ----------------------------------------------------------------------


def _render(stack: str) -> dict[str, Any]:
    return copy.deepcopy(render_json(cached_render(stack)))


def _check(analyzer: Any, render: dict[str, Any], stack: str = "prod") -> Any:
    document = json.loads((POLICY_CONFIG_DIR / f"{stack}.json").read_text())
    return check_render(render, analyzer=analyzer, policy_document=document)


def _node_files(render: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    found = []
    for entry in render["resources"]:
        data = entry["inputs"].get("data")
        if isinstance(data, dict):
            found += [(data, k) for k, v in data.items() if "process.roles=" in str(v)]
        for upload in entry["inputs"].get("uploads") or []:
            if "process.roles=" in str(upload.get("content")):
                found.append((upload, "content"))
    return found


def test_real_prod_kafka_is_governed(analyzer) -> None:
    render = _render("prod")
    result = _check(analyzer, render)
    assert not [v for v in result.violations if v.policy in KAFKA_POLICIES], result.format()
    nodes = _node_files(render)
    topics = [r for r in render["resources"] if r["type"] == "kafka:index/topic:Topic"]
    assert len(nodes) == 6 and topics, "prod no longer renders 3+3 Kafka nodes and topics"
    for holder, key in nodes:
        holder[key] = holder[key].replace("min.insync.replicas=2", "min.insync.replicas=1")
        holder[key] = holder[key].replace("CLIENT\\:SASL_SSL", "CLIENT\\:SASL_PLAINTEXT")
    topics[0]["inputs"]["replicationFactor"] = 2
    parents = {r["urn"]: r for r in render["resources"]}
    parents[topics[0]["parent"]]["inputs"].pop("owner")
    result = _check(analyzer, render)
    assert len(_fired(result, "kafka-broker-durability")) == 6
    assert len(_fired(result, "kafka-no-plaintext-listeners")) == 6
    [topic] = _fired(result, "kafka-topic-durability")
    assert "replicationFactor 2 < 3" in topic
    [governance] = _fired(result, "kafka-topic-classification-owner")
    assert "no owner" in governance


def test_real_dev_kafka_passes_dev_and_is_refused_by_prod_rules(analyzer) -> None:
    """Dev's single PLAINTEXT node (a Docker upload) is fine for dev, not for prod."""
    render = _render("dev")
    assert _node_files(render), "dev no longer renders a Kafka node config"
    dev = _check(analyzer, render, "dev")
    assert not [v for v in dev.violations if v.policy in KAFKA_POLICIES], dev.format()
    fired = {
        v.policy
        for v in check_render(render, analyzer=analyzer, policy_document=prod_config()).violations
    }
    assert {
        "kafka-broker-durability",
        "kafka-topic-durability",
        "kafka-no-plaintext-listeners",
        "kafka-listeners-authenticated",
        "kafka-authorizer-deny-by-default",
    } <= fired


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_real_kafka_provider_uses_tls(analyzer, stack: str) -> None:
    render = _render(stack)
    providers = [r for r in render["resources"] if r["type"] == "pulumi:providers:kafka"]
    assert providers, f"{stack} no longer declares a pulumi-kafka provider"
    assert not _fired(_check(analyzer, render, stack), "provider-connections-use-tls")
    providers[0]["inputs"]["tlsEnabled"] = "false"
    assert any(
        "tlsEnabled false" in m
        for m in _fired(_check(analyzer, render, stack), "provider-connections-use-tls")
    )
