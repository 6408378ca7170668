"""The prod shape on loopback: three brokers beside a three-node KRaft controller quorum.

Every node runs its rendered prod server.properties (SCRAM-SHA-512 over TLS for clients,
mutual TLS between nodes, StandardAuthorizer) with only the loopback substitution of
`kafka_server.loopback_layout`. Proves the durability settings are in force, that an
`acks=all` write fails with NOT_ENOUGH_REPLICAS once fewer than `min.insync.replicas`
brokers are in sync (and succeeds with all three), that the client listener refuses
clients without valid credentials, that the topic provider's path (every broker's ADMIN
listener advertised at one load balancer) serves admin requests from any broker, and that
the ACLs the component grants a consumer (`components/kafka/access.py`) let it read and
write exactly its topics, in its own consumer groups.
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
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclPermissionType,
    ConfigResource,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from confluent_kafka.admin import AclOperation as KafkaAclOperation
from confluent_kafka.cimpl import NewTopic

from components.contracts import StreamNeed
from components.kafka.access import AclOperation, AclResourceType, PatternType, acl_bindings
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


# --- the topic provider's path and a consumer's grants ----------------------------------


def test_the_admin_path_reaches_every_broker_through_one_address(
    prod_kafka: KafkaCluster,
) -> None:
    # Every broker advertises ADMIN at the load balancer's address; Kafka accepts that, and
    # a client (as the provider does) sees three brokers behind one address and gets its
    # admin requests served whichever broker a connection lands on.
    admin = prod_kafka.admin_path()
    metadata = admin.list_topics(timeout=10)
    assert {b.id: f"{b.host}:{b.port}" for b in metadata.brokers.values()} == dict.fromkeys(
        (0, 1, 2), prod_kafka.admin_bootstrap
    )
    for spec in topic_specs(prod_kafka.settings):
        resource = ConfigResource(ResourceType.TOPIC, spec.name)
        live = admin.describe_configs([resource])[resource].result(30)
        assert {k: live[k].value for k in spec.config} == spec.config
    reached = [port for port, count in prod_kafka.admin_proxy.connections.items() if count]
    assert len(reached) >= 2, prod_kafka.admin_proxy.connections


def test_the_admin_path_refuses_a_wrong_password(prod_kafka: KafkaCluster) -> None:
    admin = prod_kafka.admin_path(**{"sasl.password": "not-it"})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=10)


PROBE = "probe"
PROBE_NEED = StreamNeed(read=("sales.orders",), write=("audit.trino-queries",))
_ACL_TYPES = {
    AclResourceType.TOPIC: ResourceType.TOPIC,
    AclResourceType.GROUP: ResourceType.GROUP,
}
_ACL_OPERATIONS = {
    AclOperation.READ: KafkaAclOperation.READ,
    AclOperation.WRITE: KafkaAclOperation.WRITE,
    AclOperation.DESCRIBE: KafkaAclOperation.DESCRIBE,
}
_ACL_PATTERNS = {
    PatternType.LITERAL: ResourcePatternType.LITERAL,
    PatternType.PREFIXED: ResourcePatternType.PREFIXED,
}


@pytest.fixture(scope="module")
def probe_password(prod_kafka: KafkaCluster) -> str:
    """A consumer `probe` granted what the component grants for PROBE_NEED, through the
    admin path: its SCRAM credential, then exactly `acl_bindings` (what `kafka.Acl`s say)."""
    password = uuid.uuid4().hex
    admin = prod_kafka.admin_path()
    upsert = UserScramCredentialUpsertion(
        PROBE, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    admin.alter_user_scram_credentials([upsert])[PROBE].result(30)
    bindings = [
        AclBinding(
            _ACL_TYPES[b.resource_type],
            b.resource_name,
            _ACL_PATTERNS[b.pattern],
            b.principal_name,
            "*",
            _ACL_OPERATIONS[b.operation],
            AclPermissionType.ALLOW,
        )
        for b in acl_bindings(PROBE, PROBE_NEED)
    ]
    for future in admin.create_acls(bindings).values():
        future.result(30)
    probe = prod_kafka.admin(**{"sasl.username": PROBE, "sasl.password": password})
    deadline = time.monotonic() + 30
    while True:  # credentials and ACLs reach every broker through the metadata log
        try:
            if "sales.orders" in probe.list_topics(timeout=10).topics:
                return password
        except KafkaException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("probe's grants never became visible")
        time.sleep(1)


def _as_probe(cluster: KafkaCluster, password: str, **overrides: Any) -> dict[str, Any]:
    return cluster.client_config(**{"sasl.username": PROBE, "sasl.password": password, **overrides})


def _produce(config: dict[str, Any], topic: str) -> KafkaError | None:
    producer = Producer({**config, "enable.idempotence": True, "message.timeout.ms": 20000})
    outcome: list[KafkaError | None] = []
    producer.produce(topic, value=b"x", on_delivery=lambda err, _m: outcome.append(err))
    producer.flush(30)
    assert outcome, "no delivery report within the bound"
    return outcome[0]


def _consume(config: dict[str, Any], topic: str, group: str) -> tuple[bool, KafkaError | None]:
    """(whether a record arrived, the first error) within 30 bounded polls."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    try:
        for _ in range(30):
            message = consumer.poll(1.0)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                return False, error
            return True, None
        return False, None
    finally:
        consumer.close()


def test_a_consumer_sees_only_its_topics(prod_kafka: KafkaCluster, probe_password: str) -> None:
    probe = prod_kafka.admin(**{"sasl.username": PROBE, "sasl.password": probe_password})
    visible = set(probe.list_topics(timeout=10).topics)
    assert visible == {"sales.orders", "audit.trino-queries"}


def test_a_consumer_writes_its_write_topics_only(
    prod_kafka: KafkaCluster, probe_password: str
) -> None:
    config = _as_probe(prod_kafka, probe_password)
    assert _produce(config, "audit.trino-queries") is None  # idempotent: WRITE suffices
    refused = _produce(config, "sales.orders")
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED


def test_a_consumer_reads_its_read_topics_in_its_own_groups_only(
    prod_kafka: KafkaCluster, probe_password: str
) -> None:
    assert _produce(prod_kafka.client_config(), "sales.orders") is None  # as the admin
    config = _as_probe(prod_kafka, probe_password)
    assert _consume(config, "sales.orders", f"{PROBE}-{uuid.uuid4().hex[:6]}") == (True, None)
    got, error = _consume(config, "sales.orders", f"other-{uuid.uuid4().hex[:6]}")
    assert not got and error is not None
    assert error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED
    got, error = _consume(config, "crm.customers-changelog", f"{PROBE}-{uuid.uuid4().hex[:6]}")
    assert not got
