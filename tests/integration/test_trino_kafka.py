"""Trino reads Kafka topics and writes its query audit trail to Kafka, on real servers.

A real Kafka 4 broker (tests/integration/kafka_server.py, from the Kafka component's own
`server.properties`) runs with the listener security of test and prod, SCRAM-SHA-512 over
TLS with the authorizer on (one combined node: the replication shape is the Kafka tests'
business). The stack's topics are created; Trino's principal gets its SCRAM credential
and exactly the ACLs the Kafka component derives from Trino's `StreamNeed`
(`components.kafka.access.acl_bindings(trino_requirements(settings))`), nothing more.

A real Trino 476 coordinator then runs the component's files for the dev stack's settings
(its own kafka catalog, audit topic and access policy; no TLS or passwords to fake):
`config.properties` with `event-listener.config-files`, the Kafka event listener file, the
`kafka` catalog, the Kafka client properties (SCRAM login, the brokers' CA as PEM trust
store) and the file-based access control with its group file. Loopback substitution: the
broker's address and CA are the test cluster's; paths and ports change only in
tests/integration/trino_lineage.py.
"""

# confluent_kafka.admin is the documented import path for its admin types, but the package
# re-exports them without `__all__`, which pyright reports as private.
# pyright: reportPrivateImportUsage=false

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)
from trino.exceptions import TrinoUserError

from components.kafka.access import acl_bindings
from components.kafka.settings import KafkaSettings
from components.runtime.stack import Tier
from components.runtime.workload import Connection
from components.trino.access import render_group_file, render_rules_json
from components.trino.connections import StreamConnection
from components.trino.files import (
    CONFIG_DIR,
    render_access_control,
    render_coordinator_config,
    render_group_provider,
)
from components.trino.requirements import CONSUMER, trino_requirements
from components.trino.settings import TrinoSettings
from components.trino.streams import (
    KAFKA_CA_FILE,
    KAFKA_CLIENT_FILE,
    KafkaClient,
    render_kafka_client,
)
from components.trino.workloads import kafka_catalog_file, listener_files
from tests.integration.kafka_server import KafkaCluster, require_kafka, running_cluster
from tests.integration.trino_lineage import (
    LineageTrino,
    LoopbackPaths,
    require_plugins,
    running_coordinator,
    stack_settings,
)
from tests.support.kafka_stacks import stack_kafka_section

pytestmark = pytest.mark.integration

PLUGINS = ("kafka", "kafka-event-listener", "password-authenticators")  # + the file group provider
ORDERS = "sales.orders"


@dataclass
class Streams:
    """The running broker, Trino over it, and the settings both were rendered from."""

    kafka: KafkaCluster
    trino: LineageTrino
    settings: TrinoSettings
    audit_topic: str
    orders: list[dict[str, Any]]


def kafka_settings() -> KafkaSettings:
    """One combined node with test/prod's client security and the prod stack's topics."""
    _, section = stack_kafka_section("prod")
    topics = [{k: v for k, v in t.items() if k != "replicationFactor"} for t in section["topics"]]
    return KafkaSettings.for_tier(
        Tier.DEV,
        {"listeners": {"clientAuthentication": "scram-sha-512", "tls": True}, "topics": topics},
    )


def grant_trino(cluster: KafkaCluster, settings: TrinoSettings, password: str) -> None:
    """Trino's SCRAM user and exactly the ACLs the Kafka component derives from its need."""
    admin = cluster.admin()
    upsert = UserScramCredentialUpsertion(
        CONSUMER, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    admin.alter_user_scram_credentials([upsert])[CONSUMER].result(30)
    need = trino_requirements(settings).stream
    assert need is not None
    bindings = [
        AclBinding(
            ResourceType[b.resource_type.value.upper()],
            b.resource_name,
            ResourcePatternType[b.pattern.value.upper()],
            b.principal_name,
            "*",
            AclOperation[b.operation.value.upper()],
            AclPermissionType.ALLOW,
        )
        for b in acl_bindings(CONSUMER, need)
    ]
    for future in admin.create_acls(bindings).values():
        future.result(30)


def trino_files(
    cluster: KafkaCluster, settings: TrinoSettings, password: str, paths: LoopbackPaths
) -> dict[str, str]:
    """The coordinator's files as the component renders them, for this broker."""
    stream = StreamConnection(
        bootstrap_servers=tuple(cluster.bootstrap_servers.split(",")),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        user=CONSUMER,
        password=None,  # the client file is rendered below with the password in clear
        ca_certificate=None,
        peer=Connection(service="kafka", component="broker", port=9092),
    )
    listeners = listener_files(settings, trino_uri=paths.uri, lineage=None, stream=stream)
    catalog = kafka_catalog_file(settings, stream)
    assert catalog is not None
    client = KafkaClient(
        security_protocol=stream.security_protocol,
        sasl_mechanism=stream.sasl_mechanism,
        user=CONSUMER,
        password=password,
        ca_file=KAFKA_CA_FILE,
    )
    config = render_coordinator_config(
        settings,
        discovery_uri=paths.uri,
        shared_secret=None,
        event_listeners=[f.path for f in listeners],
    )
    return {
        f"{CONFIG_DIR}/config.properties": config,
        f"{CONFIG_DIR}/access-control.properties": render_access_control(settings),
        f"{CONFIG_DIR}/rules.json": render_rules_json(settings.access),
        f"{CONFIG_DIR}/group-provider.properties": render_group_provider(),
        f"{CONFIG_DIR}/group.txt": render_group_file(settings.access),
        KAFKA_CLIENT_FILE: render_kafka_client(client),
        KAFKA_CA_FILE: Path(cluster.paths.truststore).read_text(),
        catalog.path: catalog.content,
        **{f.path: f.content for f in listeners},
    }


@pytest.fixture(scope="module")
def streams() -> Iterator[Streams]:
    """A SCRAM/TLS broker with the stack's topics and a few orders, and Trino over it."""
    require_kafka()
    require_plugins(*PLUGINS)
    settings = stack_settings("dev")
    assert settings.kafka_catalog is not None and settings.query_audit is not None
    password = uuid.uuid4().hex
    with running_cluster(kafka_settings()) as cluster:
        cluster.create_topics()
        grant_trino(cluster, settings, password)
        orders = [{"id": i, "amount": 10 * i, "region": "EMEA"} for i in range(1, 4)]
        producer = Producer(cluster.client_config())
        for order in orders:
            producer.produce(ORDERS, key=str(order["id"]), value=json.dumps(order))
        assert producer.flush(30) == 0

        def render(paths: LoopbackPaths) -> dict[str, str]:
            return trino_files(cluster, settings, password, paths)

        with running_coordinator(render, plugins=PLUGINS) as trino:
            print(
                f"Kafka started in {cluster.startup_seconds:.0f} s, "
                f"Trino 476 with the kafka catalog and audit listener in {trino.startup_seconds:.0f} s"
            )
            yield Streams(cluster, trino, settings, settings.query_audit.topic, orders)


def _member(settings: TrinoSettings, group: str) -> str:
    return settings.access.members([group])[0]


def _denied(trino: LineageTrino, user: str, sql: str) -> bool:
    try:
        trino.query(user, sql)
    except TrinoUserError as error:
        if "Access Denied" in str(error):
            return True
        raise
    return False


def test_engineers_and_stewards_read_the_topic_analysts_cannot(streams: Streams) -> None:
    sql = "SELECT _key, _message FROM kafka.sales.orders ORDER BY _partition_offset"
    for group in ("engineers", "stewards", "admins"):
        rows = streams.trino.query(_member(streams.settings, group), sql)
        assert sorted((int(k), json.loads(m)) for k, m in rows) == [
            (o["id"], o) for o in streams.orders
        ], group
    for group in ("analysts-emea", "analysts-amer", "bi-tools", "pipelines"):
        assert _denied(streams.trino, _member(streams.settings, group), sql), group


def test_nobody_writes_to_kafka_through_trino(streams: Streams) -> None:
    for group in ("engineers", "stewards", "admins"):
        user = _member(streams.settings, group)
        insert = "INSERT INTO kafka.sales.orders (_message) VALUES ('forged')"
        assert _denied(streams.trino, user, insert), group


def _audit_records(streams: Streams, marker: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Audit records (parsed JSON) whose query text holds `marker`, read back with a plain
    Kafka consumer as the admin; waits (bounded) for the listener's asynchronous send."""
    consumer = Consumer(
        streams.kafka.client_config(
            **{"group.id": f"audit-reader-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([streams.audit_topic])
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while not found and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            value = None if message is None or message.error() else message.value()
            if value is None:
                continue
            record = json.loads(value)
            if marker in json.dumps(record):
                found.append(record)
    finally:
        consumer.close()
    return found


def test_a_completed_query_reaches_the_audit_topic_with_who_what_when(streams: Streams) -> None:
    marker = uuid.uuid4().hex
    user = _member(streams.settings, "engineers")
    sql = f"SELECT count(*) FROM kafka.sales.orders WHERE _message <> '{marker}'"
    assert streams.trino.query(user, sql) == [[len(streams.orders)]]
    records = _audit_records(streams, marker)
    assert len(records) == 1, records
    event = records[0]["eventPayload"]
    assert event["context"]["user"] == user
    assert event["metadata"]["query"] == sql
    assert event["metadata"]["queryState"] == "FINISHED"
    assert event["createTime"] and event["endTime"]
    inputs = {(i["catalogName"], i["schema"], i["table"]) for i in event["ioMetadata"]["inputs"]}
    assert inputs == {("kafka", "sales", "orders")}


def test_stewards_read_the_audit_trail_through_trino_engineers_cannot(streams: Streams) -> None:
    marker = uuid.uuid4().hex
    engineer = _member(streams.settings, "engineers")
    streams.trino.query(engineer, f"SELECT '{marker}'")
    assert _audit_records(streams, marker)  # written before it is read through Trino
    schema, table = streams.audit_topic.split(".", 1)
    sql = (
        f'SELECT _message FROM kafka.{schema}."{table}" '
        f"WHERE _message LIKE '%{marker}%' AND _message NOT LIKE '%_message LIKE%'"
    )
    rows = streams.trino.query(_member(streams.settings, "stewards"), sql)
    assert len(rows) == 1
    assert json.loads(rows[0][0])["eventPayload"]["context"]["user"] == engineer
    assert _denied(streams.trino, engineer, sql)
