"""The dev stack's Kafka: one combined KRaft node started from its rendered server.properties.

Proves the rendered dev config boots a real Kafka 4 node, that the stack's topics are
created (through the admin listener, as the provider does) with the retention, cleanup
policy and min.insync.replicas they declare, that a record goes in and comes back out,
and that the start script's format step changes nothing on a restarted node.
"""

# confluent_kafka.admin is the documented import path for its admin types, but the package
# re-exports them without `__all__`, which pyright reports as private.
# pyright: reportPrivateImportUsage=false

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import javaproperties
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (
    ConfigResource,
    ResourceType,
)

from components.kafka.files import topic_specs
from tests.integration.kafka_server import (
    KafkaCluster,
    dash_cluster_id,
    format_command,
    require_kafka,
    running_cluster,
    stack_kafka_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dev_kafka() -> Iterator[KafkaCluster]:
    """The dev stack's single combined node, with the stack's topics created.

    Its cluster id starts with `-`, as one generated id in 64 does: the start script's
    format arguments must still pass it as a value (they once did not).
    """
    require_kafka()
    with running_cluster(stack_kafka_settings("dev"), dash_cluster_id()) as cluster:
        cluster.create_topics()
        yield cluster


def test_dev_runs_one_combined_node(dev_kafka: KafkaCluster) -> None:
    metadata = dev_kafka.admin().list_topics(timeout=10)
    assert set(metadata.brokers) == {0}
    assert "process.roles=broker,controller" in dev_kafka.nodes[0].config.read_text()


def test_dev_topics_exist_with_their_declared_configs(dev_kafka: KafkaCluster) -> None:
    admin = dev_kafka.admin()
    specs = topic_specs(dev_kafka.settings)
    assert specs, "the dev stack declares example topics"
    metadata = admin.list_topics(timeout=10)
    resources = [ConfigResource(ResourceType.TOPIC, spec.name) for spec in specs]
    described = {
        resource.name: future.result(timeout=30)
        for resource, future in admin.describe_configs(resources).items()
    }
    for spec in specs:
        assert len(metadata.topics[spec.name].partitions) == spec.partitions
        live = {key: entry.value for key, entry in described[spec.name].items()}
        for key in ("retention.ms", "retention.bytes", "cleanup.policy", "min.insync.replicas"):
            assert live[key] == spec.config[key], (spec.name, key)
    cleanup = {spec.name: spec.config["cleanup.policy"] for spec in specs}
    assert set(cleanup.values()) == {"delete", "compact"}, "the examples cover both policies"


def test_dev_produce_then_consume(dev_kafka: KafkaCluster) -> None:
    topic = topic_specs(dev_kafka.settings)[0].name
    payload = f"order-{uuid.uuid4()}".encode()
    producer = Producer(dev_kafka.client_config(acks="all"))
    producer.produce(topic, key=b"k", value=payload)
    assert producer.flush(30) == 0
    consumer = Consumer(
        dev_kafka.client_config(
            **{"group.id": f"test-{uuid.uuid4()}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([topic])
    try:
        received: list[bytes] = []
        for _ in range(60):  # bounded: at most 60 polls of 1 s
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received.append(message.value() or b"")
                if payload in received:
                    break
        assert payload in received
    finally:
        consumer.close()


def test_dev_refuses_topics_nobody_declared(dev_kafka: KafkaCluster) -> None:
    # auto.create.topics.enable=false: a producer's typo does not create a topic.
    producer = Producer(dev_kafka.client_config(**{"message.timeout.ms": 5000}))
    errors: list[str] = []
    producer.produce("sales.ordrs", value=b"x", on_delivery=lambda err, _m: errors.append(str(err)))
    producer.flush(15)
    assert errors and errors[0] != "None"
    assert "sales.ordrs" not in dev_kafka.admin().list_topics(timeout=10).topics


def test_dev_admin_path_is_the_published_admin_listener(dev_kafka: KafkaCluster) -> None:
    # The provider's path in dev: the ADMIN listener as published on loopback (PLAINTEXT
    # like every dev listener); the topics it created are there with their partitions.
    metadata = dev_kafka.admin_path().list_topics(timeout=10)
    [broker] = metadata.brokers.values()
    assert f"{broker.host}:{broker.port}" == dev_kafka.admin_bootstrap
    for spec in topic_specs(dev_kafka.settings):
        assert len(metadata.topics[spec.name].partitions) == spec.partitions


def test_a_restarted_node_keeps_its_volume_and_topics(dev_kafka: KafkaCluster) -> None:
    # The pods' start script formats on every start with --ignore-formatted: on a
    # formatted volume that must change nothing, and the node must come back with its data.
    node = dev_kafka.nodes[0]
    meta = Path(javaproperties.loads(node.config.read_text())["log.dirs"]) / "meta.properties"
    before = meta.read_text()
    assert javaproperties.loads(before)["cluster.id"] == dev_kafka.cluster_id
    assert dev_kafka.cluster_id.startswith("-")
    dev_kafka.stop(0)
    again = subprocess.run(
        format_command(dev_kafka, node, dev_kafka.cluster_id),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert meta.read_text() == before
    dev_kafka.start(0)
    dev_kafka.wait_for_brokers({0})
    for spec in topic_specs(dev_kafka.settings):
        dev_kafka.wait_for_topic(spec.name, spec.partitions)
