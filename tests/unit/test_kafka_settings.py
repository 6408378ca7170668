"""Kafka settings and rendered files: tier defaults, clear refusals, the shape of each node."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import javaproperties
import pytest

from components.contracts import Requirements, StreamNeed
from components.kafka.files import (
    ClusterLayout,
    KafkaPaths,
    client_properties,
    cluster_layout,
    scram_credential,
    server_properties,
    topic_specs,
)
from components.kafka.settings import KAFKA_VERSION, KafkaMode, KafkaSettings
from components.runtime.stack import Tier
from tests.support.kafka_stacks import stack_kafka_section, stack_kafka_settings

REPO = Path(__file__).resolve().parents[2]
TOPIC = {"name": "sales.orders", "partitions": 3, "classification": "internal", "owner": "sales"}


def _prod(**section: Any) -> KafkaSettings:
    return KafkaSettings.for_tier(Tier.PROD, {"topics": [TOPIC], **section})


def _refused(tier: Tier, section: dict[str, Any], *needles: str) -> str:
    with pytest.raises(ValueError) as error:
        KafkaSettings.for_tier(tier, section)
    message = str(error.value)
    for needle in needles:
        assert needle in message, message
    return message


def _layout(settings: KafkaSettings) -> ClusterLayout:
    return cluster_layout(
        settings,
        broker_host=lambda i: f"dp-prod-kafka-broker-{i}.dp-prod-kafka-broker",
        controller_host=lambda i: f"dp-prod-kafka-controller-{i}.dp-prod-kafka-controller",
    )


def _props(settings: KafkaSettings, node_id: int) -> dict[str, str]:
    return javaproperties.loads(server_properties(settings, _layout(settings), node_id))


# --- the stacks' sections -------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_each_stack_section_validates(stack: str) -> None:
    settings = stack_kafka_settings(stack)
    assert settings.topics
    assert all(t.classification and t.owner for t in settings.topics)


def test_dev_is_one_combined_plaintext_node() -> None:
    settings = stack_kafka_settings("dev")
    assert settings.mode is KafkaMode.COMBINED
    props = _props(settings, 0)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "0@dp-prod-kafka-broker-0.dp-prod-kafka-broker:9093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert "authorizer.class.name" not in props


def test_prod_renders_three_brokers_and_a_separate_quorum() -> None:
    settings = stack_kafka_settings("prod")
    layout = _layout(settings)
    assert [a.node_id for a in layout.brokers] == [0, 1, 2]
    assert [a.node_id for a in layout.controllers] == [1000, 1001, 1002]
    roles = {n: _props(settings, n)["process.roles"] for n in layout.node_ids}
    assert roles == {0: "broker", 1: "broker", 2: "broker"} | dict.fromkeys(
        (1000, 1001, 1002), "controller"
    )
    broker = _props(settings, 1)
    assert broker["advertised.listeners"] == (
        "CLIENT://dp-prod-kafka-broker-1.dp-prod-kafka-broker:9092,"
        "INTERNAL://dp-prod-kafka-broker-1.dp-prod-kafka-broker:9094"
    )
    assert broker["controller.quorum.voters"] == ",".join(
        f"{1000 + i}@dp-prod-kafka-controller-{i}.dp-prod-kafka-controller:9093" for i in range(3)
    )
    controller = _props(settings, 1000)
    assert controller["listeners"] == "CONTROLLER://0.0.0.0:9093"
    assert "advertised.listeners" not in controller
    assert controller["default.replication.factor"] == "3"


def test_prod_listeners_are_authenticated_and_encrypted() -> None:
    props = _props(stack_kafka_settings("prod"), 0)
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert protocols == {
        "CLIENT": "SASL_SSL",
        "INTERNAL": "SSL",
        "CONTROLLER": "SSL",
        "ADMIN": "SASL_SSL",
    }
    assert "PLAINTEXT" not in props["listeners"] + props["listener.security.protocol.map"]
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.internal.ssl.client.auth"] == "required"
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:kafka-node"


def test_prod_durability_keys() -> None:
    props = _props(stack_kafka_settings("prod"), 0)
    assert {
        k: props[k]
        for k in props
        if any(w in k for w in ("replication", "isr", "insync", "unclean"))
    } == {
        "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3",
        "share.coordinator.state.topic.min.isr": "2",
        "share.coordinator.state.topic.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "transaction.state.log.replication.factor": "3",
        "unclean.leader.election.enable": "false",
    }


def test_log_dirs_on_the_volume_path() -> None:
    settings = stack_kafka_settings("prod")
    text = server_properties(settings, _layout(settings), 0, KafkaPaths(data_dir="/data/kafka"))
    assert javaproperties.loads(text)["log.dirs"] == "/data/kafka"


def test_renders_are_deterministic_and_hold_no_secret() -> None:
    settings = stack_kafka_settings("prod")
    first = server_properties(settings, _layout(settings), 2)
    assert first == server_properties(settings, _layout(settings), 2)
    assert "password" not in first.lower()
    assert not first.startswith("#"), "no timestamp comment"


def test_topic_specs_carry_effective_replication_and_configs() -> None:
    specs = {s.name: s for s in topic_specs(stack_kafka_settings("prod"))}
    changelog = specs["crm.customers-changelog"]
    assert changelog.replication_factor == 3
    assert changelog.config == {
        "cleanup.policy": "compact",
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "min.insync.replicas": "2",
    }


def test_client_properties_carry_the_password_only_for_scram() -> None:
    prod = stack_kafka_settings("prod")
    text = client_properties(prod, bootstrap_servers="b:9092", password='p"w')
    props = javaproperties.loads(text)
    assert props["security.protocol"] == "SASL_SSL"
    assert 'username="admin" password="p\\"w";' in props["sasl.jaas.config"]
    with pytest.raises(ValueError, match="password"):
        client_properties(prod, bootstrap_servers="b:9092")
    dev = javaproperties.loads(
        client_properties(stack_kafka_settings("dev"), bootstrap_servers="b:9092")
    )
    assert dev == {"bootstrap.servers": "b:9092", "security.protocol": "PLAINTEXT"}


def test_scram_bootstrap_credential() -> None:
    assert scram_credential("admin", "s3cret") == 'SCRAM-SHA-512=[name=admin,password="s3cret"]'
    with pytest.raises(ValueError, match="SCRAM bootstrap"):
        scram_credential("admin", 'a"b')


def test_mtls_clients_use_ssl_with_client_auth() -> None:
    props = _props(_prod(listeners={"clientAuthentication": "mtls"}), 0)
    assert "CLIENT:SSL" in props["listener.security.protocol.map"]
    assert props["listener.name.client.ssl.client.auth"] == "required"
    # Clients present certificates; only the admin listener speaks SCRAM.
    assert "listener.name.client.scram-sha-512.sasl.jaas.config" not in props
    assert "CLIENT:SSL" in props["listener.security.protocol.map"]
    assert "ADMIN:SASL_SSL" in props["listener.security.protocol.map"]


def test_image_and_jar_versions_are_equal() -> None:
    script = (REPO / "scripts/install-kafka.sh").read_text()
    match = re.search(r"^version=(\S+)$", script, re.MULTILINE)
    assert match and match.group(1) == KAFKA_VERSION
    for stack in ("dev", "test", "prod"):
        assert stack_kafka_settings(stack).image == f"apache/kafka:{KAFKA_VERSION}"


# --- refusals -------------------------------------------------------------------------


def test_topic_replication_beyond_the_brokers_is_refused() -> None:
    _refused(
        Tier.DEV,
        {"topics": [{**TOPIC, "replicationFactor": 3}]},
        "kafka.topics[sales.orders].replicationFactor 3 exceeds the 1 broker(s)",
    )


def test_default_replication_beyond_the_brokers_is_refused() -> None:
    _refused(
        Tier.DEV,
        {"durability": {"defaultReplicationFactor": 2}},
        "kafka.durability.defaultReplicationFactor 2 exceeds the 1 broker(s)",
    )


def test_prod_without_authentication_is_refused() -> None:
    _refused(
        Tier.PROD,
        {"listeners": {"clientAuthentication": "none"}},
        "kafka.listeners.clientAuthentication must be 'scram-sha-512' or 'mtls' in a prod stack",
    )


def test_prod_with_a_plaintext_client_listener_is_refused() -> None:
    message = _refused(
        Tier.PROD,
        {"listeners": {"clientAuthentication": "none", "tls": False}},
        "PLAINTEXT client listener",
        "kafka.listeners.tls must be true in a prod stack",
    )
    assert message.count(";") >= 1, "every problem is listed"


def test_test_tier_needs_tls_too() -> None:
    _refused(Tier.TEST, {"listeners": {"tls": False}}, "kafka.listeners.tls must be true")


@pytest.mark.parametrize(
    "name",
    ["__consumer_offsets", "Sales.Orders", "sales_orders.raw", "sales..orders", "-x", "a" * 250],
)
def test_bad_topic_names_are_refused(name: str) -> None:
    _refused(Tier.DEV, {"topics": [{**TOPIC, "name": name}]}, "kafka.topics.0.name")


def test_prod_replication_below_three_is_refused() -> None:
    _refused(
        Tier.PROD,
        {"topics": [{**TOPIC, "replicationFactor": 2, "minInsyncReplicas": 2}]},
        "kafka.topics[sales.orders].replicationFactor must be at least 3 in a prod stack, got 2",
    )
    _refused(
        Tier.PROD,
        {"durability": {"defaultReplicationFactor": 2}},
        "kafka.durability.defaultReplicationFactor must be at least 3",
    )


def test_prod_durability_loosened_is_refused() -> None:
    _refused(
        Tier.PROD,
        {
            "durability": {
                "minInsyncReplicas": 1,
                "uncleanLeaderElection": True,
                "offsetsTopicReplicationFactor": 1,
                "transactionStateLogMinIsr": 1,
            }
        },
        "kafka.durability.minInsyncReplicas must be at least 2",
        "kafka.durability.uncleanLeaderElection must be false",
        "kafka.durability.offsetsTopicReplicationFactor must be at least 3",
        "kafka.durability.transactionStateLogMinIsr must be at least 2",
    )


def test_prod_combined_mode_is_refused() -> None:
    _refused(Tier.PROD, {"mode": "combined"}, "kafka.mode must be 'separated' in a prod stack")


def test_topic_min_isr_above_its_replication_is_refused() -> None:
    _refused(
        Tier.PROD,
        {"topics": [{**TOPIC, "replicationFactor": 3, "minInsyncReplicas": 4}]},
        "kafka.topics[sales.orders].minInsyncReplicas 4 exceeds its replication factor 3",
    )


def test_even_controller_quorum_is_refused() -> None:
    _refused(Tier.PROD, {"controllers": {"replicas": 4}}, "odd number of controllers")


def test_mtls_without_tls_is_refused() -> None:
    _refused(
        Tier.DEV,
        {"listeners": {"clientAuthentication": "mtls"}},
        "kafka.listeners: clientAuthentication 'mtls' needs tls: true",
    )


def test_duplicate_topic_is_refused() -> None:
    _refused(Tier.DEV, {"topics": [TOPIC, TOPIC]}, "'sales.orders' is declared twice")


def test_topic_without_owner_or_classification_is_refused() -> None:
    bare = {"name": "sales.orders", "partitions": 1}
    _refused(Tier.DEV, {"topics": [bare]}, "kafka.topics.0.classification", "kafka.topics.0.owner")


def test_heap_beyond_the_memory_limit_is_refused() -> None:
    _refused(Tier.PROD, {"brokers": {"heapMegabytes": 2048}}, "heapMegabytes 2048 exceeds 3/4")


def test_unknown_key_is_named() -> None:
    _refused(Tier.DEV, {"topcs": []}, "kafka.topcs: unknown key")


def test_another_kafka_version_is_refused() -> None:
    _refused(Tier.DEV, {"image": "apache/kafka:3.9.1"}, f"pin apache/kafka:{KAFKA_VERSION}")


def test_floating_image_tag_is_refused() -> None:
    _refused(Tier.DEV, {"image": "apache/kafka:latest"}, "floating tag")


def test_stack_tier_comes_from_the_stack_file() -> None:
    for stack, tier in (("dev", Tier.DEV), ("test", Tier.TEST), ("prod", Tier.PROD)):
        found, section = stack_kafka_section(stack)
        assert found is tier and "topics" in section


# --- the admin listener, tier defaults, serving consumers ------------------------------


def _admin_layout(settings: KafkaSettings) -> ClusterLayout:
    return cluster_layout(
        settings,
        broker_host=lambda i: f"b-{i}",
        controller_host=lambda i: f"c-{i}",
        admin_advertised=lambda _: "10.0.0.9:9095",
    )


def test_every_broker_gets_the_admin_listener_advertised_where_the_operator_reaches_it() -> None:
    settings = stack_kafka_settings("prod")
    layout = _admin_layout(settings)
    for node_id in (0, 1, 2):
        props = javaproperties.loads(server_properties(settings, layout, node_id))
        assert "ADMIN://0.0.0.0:9095" in props["listeners"].split(",")
        assert props["advertised.listeners"].split(",")[-1] == "ADMIN://10.0.0.9:9095"
        assert props["listener.name.admin.scram-sha-512.sasl.jaas.config"].endswith("required;")
        assert props["listener.name.admin.ssl.client.auth"] == "none"
    controller = javaproperties.loads(server_properties(settings, layout, 1000))
    assert "ADMIN" not in controller["listeners"]


def test_dev_admin_listener_is_plaintext_like_its_clients() -> None:
    settings = stack_kafka_settings("dev")
    props = javaproperties.loads(server_properties(settings, _admin_layout(settings), 0))
    assert "ADMIN:PLAINTEXT" in props["listener.security.protocol.map"]
    assert "sasl.enabled.mechanisms" not in props


def test_admin_port_must_differ_from_the_others() -> None:
    _refused(Tier.DEV, {"listeners": {"adminPort": 9092}}, "listener ports must differ")


def test_tier_defaults_are_the_section_the_stack_file_starts_from() -> None:
    assert KafkaSettings.tier_defaults(Tier.DEV)["mode"] == "combined"
    assert KafkaSettings.tier_defaults(Tier.PROD) == {}
    changed = KafkaSettings.tier_defaults(Tier.DEV)
    changed["brokers"]["replicas"] = 7
    assert KafkaSettings.tier_defaults(Tier.DEV)["brokers"]["replicas"] == 1, "a copy"


def test_brokers_are_labelled_with_their_most_sensitive_topic() -> None:
    assert stack_kafka_settings("prod").highest_classification.value == "restricted"
    assert KafkaSettings.for_tier(Tier.DEV, {}).highest_classification.value == "internal"


def _needs(consumer: str, **stream: tuple[str, ...]) -> Requirements:
    return Requirements(consumer=consumer, stream=StreamNeed(**stream))


def test_consumers_may_only_use_declared_topics() -> None:
    settings = stack_kafka_settings("prod")
    assert settings.serve_problems([_needs("trino", read=("sales.orders",))]) == []
    [problem] = settings.serve_problems([_needs("trino", write=("sales.ordrs",))])
    assert problem.startswith("trino reads or writes topics ['sales.ordrs'] that kafka.topics")


def test_a_consumer_cannot_take_the_admin_users_name() -> None:
    [problem] = stack_kafka_settings("prod").serve_problems([_needs("admin", read=())])
    assert "kafka.adminUser 'admin' is also a consumer's principal" in problem


def test_mtls_clusters_cannot_serve_consumers_yet() -> None:
    settings = _prod(listeners={"clientAuthentication": "mtls"})
    [problem] = settings.serve_problems([_needs("dagster", read=("sales.orders",))])
    assert "clientAuthentication 'mtls'" in problem
