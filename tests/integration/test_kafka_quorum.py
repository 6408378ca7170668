"""The prod shape on loopback: three brokers beside a three-node KRaft controller quorum.

Every node runs its rendered prod server.properties (SCRAM-SHA-512 over TLS for clients,
mutual TLS between nodes, StandardAuthorizer) with only the loopback substitution of
`kafka_server.loopback_layout`. Proves the durability settings are in force, that an
`acks=all` write fails with NOT_ENOUGH_REPLICAS once fewer than `min.insync.replicas`
brokers are in sync (and succeeds with all three), and that the client listener
refuses clients without valid credentials.
"""

# confluent_kafka.admin is the documented import path for its admin types, but the package
# re-exports them without `__all__`, which pyright reports as private.
# pyright: reportPrivateImportUsage=false

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    ConfigResource,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from confluent_kafka.cimpl import NewTopic

from components.kafka.files import topic_specs
from tests.integration.kafka_server import (
    KafkaCluster,
    require_kafka,
    running_cluster,
    stack_kafka_settings,
)

pytestmark = pytest.mark.integration
DURABLE_TOPIC = "sales.orders"  # RF 3, min.insync.replicas 2 in prod


@pytest.fixture(scope="module")
def prod_kafka() -> Iterator[KafkaCluster]:
    """The prod stack's separated cluster on loopback, with the stack's topics created."""
    require_kafka()
    with running_cluster(stack_kafka_settings("prod")) as cluster:
        cluster.create_topics()
        yield cluster


def _send(cluster: KafkaCluster, topic: str, *, acks: str) -> KafkaError | None:
    """Produce one record without retries; the delivery error, or None on success."""
    producer = Producer(
        cluster.client_config(
            acks=acks,
            retries=0,
            **{"enable.idempotence": False, "message.timeout.ms": 30000},
        )
    )
    outcome: list[KafkaError | None] = []
    producer.produce(
        topic, key=b"k", value=uuid.uuid4().bytes, on_delivery=lambda err, _m: outcome.append(err)
    )
    producer.flush(45)
    assert outcome, "no delivery report within the bound"
    return outcome[0]


def _wait_for_isr(cluster: KafkaCluster, topic: str, size: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    admin = cluster.admin()
    while time.monotonic() < deadline:
        partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions.values()
        if all(len(p.isrs) == size and p.leader >= 0 for p in partitions):
            return
        time.sleep(0.5)
    raise AssertionError(f"{topic} did not reach an ISR of {size} within {timeout}s")


def test_prod_runs_separated_brokers_and_controllers(prod_kafka: KafkaCluster) -> None:
    roles = {
        node_id: node.config.read_text().split("process.roles=")[1].split("\n")[0]
        for node_id, node in prod_kafka.nodes.items()
    }
    assert sorted(roles.values()) == ["broker"] * 3 + ["controller"] * 3
    assert set(prod_kafka.admin().list_topics(timeout=10).brokers) == {0, 1, 2}


def test_prod_durability_settings_in_force(prod_kafka: KafkaCluster) -> None:
    admin = prod_kafka.admin()
    for broker in ("0", "1", "2"):
        resource = ConfigResource(ResourceType.BROKER, broker)
        live = {
            k: e.value for k, e in admin.describe_configs([resource])[resource].result(30).items()
        }
        assert live["min.insync.replicas"] == "2"
        assert live["unclean.leader.election.enable"] == "false"
        assert live["offsets.topic.replication.factor"] == "3"
        assert live["transaction.state.log.replication.factor"] == "3"
        assert live["transaction.state.log.min.isr"] == "2"
        assert live["auto.create.topics.enable"] == "false"
    # Topics created without a replication factor get the controllers' default of 3.
    name = f"check.default-rf-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(name, 1)])[name].result(60)
    replicas = prod_kafka.wait_for_topic(name, 1).partitions[0].replicas
    assert len(replicas) == 3


def test_prod_topics_replicated_as_declared(prod_kafka: KafkaCluster) -> None:
    admin = prod_kafka.admin()
    metadata = admin.list_topics(timeout=10)
    for spec in topic_specs(prod_kafka.settings):
        assert spec.replication_factor == 3
        for partition in metadata.topics[spec.name].partitions.values():
            assert len(partition.replicas) == 3
        resource = ConfigResource(ResourceType.TOPIC, spec.name)
        live = admin.describe_configs([resource])[resource].result(30)
        assert live["min.insync.replicas"].value == "2"
        assert live["cleanup.policy"].value == spec.config["cleanup.policy"]


def test_acks_all_needs_min_insync_replicas(prod_kafka: KafkaCluster) -> None:
    _wait_for_isr(prod_kafka, DURABLE_TOPIC, 3)
    assert _send(prod_kafka, DURABLE_TOPIC, acks="all") is None
    try:
        prod_kafka.stop_brokers([1, 2])
        _wait_for_isr(prod_kafka, DURABLE_TOPIC, 1)
        refused = _send(prod_kafka, DURABLE_TOPIC, acks="all")
        assert refused is not None and refused.code() == KafkaError.NOT_ENOUGH_REPLICAS, refused
        # The surviving broker is up and leads: only the durability rule refused the write.
        assert _send(prod_kafka, DURABLE_TOPIC, acks="1") is None
    finally:
        for node_id in (1, 2):
            prod_kafka.start(node_id)
        prod_kafka.wait_for_brokers({0, 1, 2})
    _wait_for_isr(prod_kafka, DURABLE_TOPIC, 3)
    assert _send(prod_kafka, DURABLE_TOPIC, acks="all") is None


def _metadata_errors(cluster: KafkaCluster, **overrides: Any) -> tuple[bool, list[KafkaError]]:
    """Whether a metadata request succeeded with `overrides`, and the client's errors."""
    errors: list[KafkaError] = []
    admin = cluster.admin(error_cb=errors.append, **overrides)
    try:
        admin.list_topics(timeout=10)
    except KafkaException:
        admin.poll(1)  # error callbacks are served from poll()
        return False, errors
    return True, errors


def test_client_without_credentials_is_refused(prod_kafka: KafkaCluster) -> None:
    ok, _ = _metadata_errors(
        prod_kafka,
        **{
            "security.protocol": "SSL",
            "sasl.mechanism": None,
            "sasl.username": None,
            "sasl.password": None,
        },
    )
    assert not ok


def test_client_with_a_wrong_password_is_refused(prod_kafka: KafkaCluster) -> None:
    ok, errors = _metadata_errors(prod_kafka, **{"sasl.password": "not-the-password"})
    assert not ok
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


def test_authenticated_user_without_acls_is_not_authorized(prod_kafka: KafkaCluster) -> None:
    # allow.everyone.if.no.acl.found=false: authentication alone grants nothing.
    user, password = f"no-acl-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    admin = prod_kafka.admin()
    upsert = UserScramCredentialUpsertion(
        user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    admin.alter_user_scram_credentials([upsert])[user].result(30)
    stranger = prod_kafka.admin(**{"sasl.username": user, "sasl.password": password})
    deadline = time.monotonic() + 30
    while True:  # the new credential reaches every broker through the metadata log
        try:
            topics = stranger.list_topics(timeout=10).topics
            break
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert DURABLE_TOPIC not in topics
    with pytest.raises(KafkaException) as refused:
        stranger.create_topics([NewTopic("stranger.topic", 1, 3)])["stranger.topic"].result(30)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
