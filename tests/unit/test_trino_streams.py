"""Trino's lineage and Kafka wiring: the OpenLineage listener, the query-audit listener and
the `kafka` catalog, rendered from each stack's settings and the access its producers grant.

The producers here are stand-ins implementing `LineageProducer` and `StreamProducer`
(components/contracts.py), registered in the stack's registry in place of Marquez and
Kafka, so these tests pin what Trino renders from the contracts alone: every file, which
of them are secret, which tier reads them, the network peers and what the pods wait for.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import javaproperties
import pulumi
import pulumi_random as random
import pytest
from pydantic import BaseModel

import infra.services
from components.contracts import (
    LineageAccess,
    LineageProducer,
    Peer,
    Requirements,
    Service,
    ServiceContext,
    StreamAccess,
    StreamProducer,
    requirement_problems,
)
from components.object_store.service import SERVICE as OBJECT_STORE
from components.postgres.service import SERVICE as POSTGRES
from components.runtime.stack import Tier
from components.runtime.workload import Endpoint
from components.trino.requirements import trino_requirements
from components.trino.service import SERVICE as TRINO
from components.trino.settings import TrinoSettings
from components.trino.streams import (
    KAFKA_CA_FILE,
    KAFKA_CATALOG_FILE,
    KAFKA_CLIENT_FILE,
    KAFKA_LISTENER_FILE,
    OPENLINEAGE_LISTENER_FILE,
    KafkaClient,
    render_kafka_catalog,
    render_kafka_client,
    render_kafka_event_listener,
)
from infra.config import ConfigError, parse_config
from infra.platform import DataPlatform
from ops.render import Render, render_program
from tests.unit.test_config import raw_config
from tests.unit.test_trino import parse_properties, rendered_files, trino_raw

KAFKA_PASSWORD = "trino-kafka-password-4711"
BOOTSTRAP = tuple(f"kafka-broker-{i}.kafka-broker:9092" for i in range(3))
LINEAGE_URL = "http://marquez-api:5000"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


# --- stand-in producers -------------------------------------------------------------


class StandInStream(pulumi.ComponentResource):
    """A StreamProducer: SCRAM over TLS, one credential resource per consumer to wait for."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__("dataplatform:test:Stream", ctx.resource_name("kafka"), None)
        self.served = {r.consumer: r.stream for r in ctx.requirements if r.stream is not None}
        self.register_outputs({})

    def stream_access(self, consumer: str) -> StreamAccess:
        """The consumer's principal; KeyError if it declared no stream need."""
        assert consumer in self.served, consumer
        credential = random.RandomString(
            f"kafka-credential-{consumer}", length=8, opts=pulumi.ResourceOptions(parent=self)
        )
        return StreamAccess(
            peer=Peer(service="kafka", component="broker", port=9092),
            bootstrap_servers=BOOTSTRAP,
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            user=consumer,
            password=pulumi.Output.secret(KAFKA_PASSWORD),
            ca_certificate=pulumi.Output.from_input(CA_PEM),
            ready=(credential,),
        )


class StandInLineage(pulumi.ComponentResource):
    """A LineageProducer: Marquez's API endpoint and the stack's namespace."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__("dataplatform:test:Lineage", ctx.resource_name("marquez"), None)
        self.namespace = f"dataplatform-{ctx.stack.environment}"
        self.register_outputs({})

    def lineage_access(self, consumer: str) -> LineageAccess:
        """Where `consumer` posts run events."""
        return LineageAccess(
            peer=Peer(service="marquez", component="api", port=5000),
            endpoint=Endpoint(host="marquez-api", port=5000),
            namespace=self.namespace,
        )


def _stream(ctx: ServiceContext, _: BaseModel) -> pulumi.ComponentResource:
    return StandInStream(ctx)


def _lineage(ctx: ServiceContext, _: BaseModel) -> pulumi.ComponentResource:
    return StandInLineage(ctx)


STAND_INS = (
    OBJECT_STORE,
    POSTGRES,
    Service(name="kafka", section="kafka", build=_stream, produces=(StreamProducer,)),
    Service(name="marquez", section="marquez", build=_lineage, produces=(LineageProducer,)),
    TRINO,
)


def _raw(stack: str, **trino: Any) -> dict[str, Any]:
    """The stack file with `trino` keys changed as given (None: removed)."""
    raw = raw_config(stack)
    for key, value in trino.items():
        if value is None:
            raw["trino"].pop(key, None)
        else:
            raw["trino"][key] = value
    return raw


@functools.cache
def stand_in_render(stack: str, drop: tuple[str, ...] = ()) -> Render:
    """The stack rendered with the stand-in producers; `drop` removes Trino keys."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra.services, "SERVICES", STAND_INS)
        config = parse_config(stack, _raw(stack, **dict.fromkeys(drop)))

        def program() -> None:
            DataPlatform("p", config=config, services=STAND_INS)

        return render_program(program, stack=stack)


# --- settings and requirements --------------------------------------------------------


def test_requirements_follow_the_settings() -> None:
    settings = TrinoSettings.model_validate(trino_raw("prod"))
    needs = trino_requirements(settings)
    assert needs.lineage is True
    assert needs.stream is not None
    assert needs.stream.read == ("sales.orders", "audit.trino-queries")
    assert needs.stream.write == ("audit.trino-queries",)
    bare = settings.model_copy(
        update={"kafka_catalog": None, "query_audit": None, "lineage": False}
    )
    assert (trino_requirements(bare).stream, trino_requirements(bare).lineage) == (None, False)
    audit_only = settings.model_copy(update={"kafka_catalog": None})
    assert trino_requirements(audit_only).stream.read == ()  # type: ignore[union-attr]


def test_prod_requires_a_query_audit_topic() -> None:
    raw = trino_raw("prod")
    del raw["queryAudit"]
    problems = TrinoSettings.model_validate(raw).tier_problems(Tier.PROD)
    assert any(p.startswith("trino.queryAudit is required in prod") for p in problems)
    assert not TrinoSettings.model_validate(raw).tier_problems(Tier.TEST)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"kafkaCatalog": {"topics": ["Sales_Orders"]}},
            "data-platform:trino.kafkaCatalog.topics[0]: ",
        ),
        ({"kafkaCatalog": {"topics": []}}, "data-platform:trino.kafkaCatalog.topics"),
        (
            {"kafkaCatalog": {"topics": ["sales.orders", "sales.orders"]}},
            "topics must be unique, repeated: ['sales.orders']",
        ),
        ({"queryAudit": {"topic": "__consumer_offsets"}}, "data-platform:trino.queryAudit.topic"),
        ({"queryAudit": {"topics": "audit"}}, "data-platform:trino.queryAudit.topics: unknown key"),
        ({"lineage": "sometimes"}, "data-platform:trino.lineage: Input should be a valid boolean"),
    ],
)
def test_bad_stream_settings_are_refused_naming_the_key(
    change: dict[str, Any], message: str
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(infra.services, "SERVICES", STAND_INS)
        with pytest.raises(ConfigError) as error:
            parse_config("test", _raw("test", **change))
    assert message in str(error.value)


def test_a_stack_asking_for_lineage_and_kafka_without_their_producers_is_refused() -> None:
    settings = TrinoSettings.model_validate(trino_raw("test"))
    services = (*STAND_INS[:2], TRINO)
    problems = requirement_problems(
        services,
        {"object_store": object(), "postgres": object(), "trino": settings},  # type: ignore[dict-item]
    )
    assert any(
        "trino needs Kafka topics, but the stack has no producer section" in p for p in problems
    )
    assert any(
        "trino needs a lineage endpoint (OpenLineage), but the stack has no" in p for p in problems
    )
    quiet = settings.model_copy(
        update={"kafka_catalog": None, "query_audit": None, "lineage": False}
    )
    assert (
        requirement_problems(
            services,
            {"object_store": object(), "postgres": object(), "trino": quiet},  # type: ignore[dict-item]
        )
        == []
    )
    assert isinstance(trino_requirements(quiet), Requirements)


# --- pure renderers ---------------------------------------------------------------------


def test_client_properties_log_in_with_scram_over_tls() -> None:
    text = render_kafka_client(
        KafkaClient(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            user="trino",
            password='pa"ss\\word',
            ca_file=KAFKA_CA_FILE,
        )
    )
    props = javaproperties.loads(text)
    assert props == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="trino" password="pa\\"ss\\\\word";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": KAFKA_CA_FILE,
        "ssl.endpoint.identification.algorithm": "https",
    }
    plain = javaproperties.loads(render_kafka_client(KafkaClient(security_protocol="PLAINTEXT")))
    assert plain == {"security.protocol": "PLAINTEXT"}


def test_client_properties_refuse_sasl_without_password_and_tls_without_ca() -> None:
    with pytest.raises(ValueError, match="needs Trino's Kafka user and password"):
        render_kafka_client(
            KafkaClient(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", user="t")
        )
    with pytest.raises(ValueError, match="needs the brokers' CA file"):
        render_kafka_client(KafkaClient(security_protocol="SSL"))


def test_audit_listener_publishes_completed_queries_only_and_fails_closed() -> None:
    props = javaproperties.loads(
        render_kafka_event_listener(bootstrap_servers=BOOTSTRAP, topic="audit.trino-queries")
    )
    assert props["event-listener.name"] == "kafka"
    assert props["kafka-event-listener.broker-endpoints"] == ",".join(BOOTSTRAP)
    assert props["kafka-event-listener.completed-event.topic"] == "audit.trino-queries"
    assert props["kafka-event-listener.publish-completed-event"] == "true"
    assert props["kafka-event-listener.publish-created-event"] == "false"
    assert props["kafka-event-listener.publish-split-completed-event"] == "false"
    assert props["kafka-event-listener.terminate-on-initialization-failure"] == "true"
    assert props["kafka-event-listener.config.resources"] == KAFKA_CLIENT_FILE


def test_kafka_catalog_exposes_the_topics_with_their_message_columns() -> None:
    props = javaproperties.loads(
        render_kafka_catalog(bootstrap_servers=BOOTSTRAP, topics=("sales.orders", "a.b-c"))
    )
    assert props == {
        "connector.name": "kafka",
        "kafka.nodes": ",".join(BOOTSTRAP),
        "kafka.table-names": "sales.orders,a.b-c",
        "kafka.hide-internal-columns": "false",
        "kafka.config.resources": KAFKA_CLIENT_FILE,
    }
    # Trino loads every *.properties of the catalog directory as a catalog.
    assert not KAFKA_CLIENT_FILE.startswith(KAFKA_CATALOG_FILE.rsplit("/", 1)[0] + "/")


# --- the stack rendered with stand-in producers -----------------------------------------


def _config(files: dict[str, str]) -> dict[str, str]:
    return parse_properties(files["/etc/trino/config.properties"])


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_coordinator_loads_both_listeners_and_the_kafka_catalog(stack: str) -> None:
    render = stand_in_render(stack)
    plain, secret = rendered_files(stack, render=render)
    listeners = [OPENLINEAGE_LISTENER_FILE, KAFKA_LISTENER_FILE]
    if "/etc/trino/config.properties" in plain:  # dev: no shared secret, a plain file
        assert _config(plain)["event-listener.config-files"] == ",".join(listeners)
    lineage = javaproperties.loads(plain[OPENLINEAGE_LISTENER_FILE])
    assert lineage["event-listener.name"] == "openlineage"
    assert lineage["openlineage-event-listener.transport.url"] == LINEAGE_URL
    assert lineage["openlineage-event-listener.transport.endpoint"] == "/api/v1/lineage"
    assert lineage["openlineage-event-listener.namespace"] == f"dataplatform-{stack}"
    host = (
        "trino-coordinator" if stack == "dev" else f"trino-coordinator.dp-{stack}.svc.cluster.local"
    )
    assert lineage["openlineage-event-listener.trino.uri"] == f"http://{host}:8080"
    audit = javaproperties.loads(plain[KAFKA_LISTENER_FILE])
    assert audit["kafka-event-listener.completed-event.topic"] == "audit.trino-queries"
    assert audit["kafka-event-listener.broker-endpoints"] == ",".join(BOOTSTRAP)
    catalog = javaproperties.loads(plain[KAFKA_CATALOG_FILE])
    assert catalog["kafka.table-names"] == "sales.orders,audit.trino-queries"
    assert {KAFKA_CLIENT_FILE, KAFKA_CA_FILE} <= secret
    assert KAFKA_CLIENT_FILE not in plain and KAFKA_CA_FILE not in plain


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_the_kafka_password_never_appears_in_a_render(stack: str) -> None:
    assert KAFKA_PASSWORD not in stand_in_render(stack).to_json()


def test_workers_read_the_kafka_catalog_but_only_the_coordinator_audits_and_sends_lineage() -> None:
    render = stand_in_render("prod")
    plain, secret = rendered_files("prod", "worker", render=render)
    assert KAFKA_CATALOG_FILE in plain and {KAFKA_CLIENT_FILE, KAFKA_CA_FILE} <= secret
    assert OPENLINEAGE_LISTENER_FILE not in plain and KAFKA_LISTENER_FILE not in plain
    policies = {r["name"] for r in render.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert {
        "dp-prod-trino-coordinator-to-kafka-broker",
        "dp-prod-trino-worker-to-kafka-broker",
        "dp-prod-trino-coordinator-to-marquez-api",
    } <= policies
    assert "dp-prod-trino-worker-to-marquez-api" not in policies


def test_without_a_catalog_only_the_coordinator_talks_to_kafka() -> None:
    render = stand_in_render("prod", drop=("kafkaCatalog",))
    plain, secret = rendered_files("prod", "worker", render=render)
    assert KAFKA_CATALOG_FILE not in plain and KAFKA_CLIENT_FILE not in secret
    coordinator_plain, coordinator_secret = rendered_files("prod", render=render)
    assert KAFKA_CLIENT_FILE in coordinator_secret and KAFKA_LISTENER_FILE in coordinator_plain
    assert KAFKA_CATALOG_FILE not in coordinator_plain
    policies = {r["name"] for r in render.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")}
    assert "dp-prod-trino-coordinator-to-kafka-broker" in policies
    assert "dp-prod-trino-worker-to-kafka-broker" not in policies


def test_without_lineage_and_kafka_no_listener_is_configured() -> None:
    render = stand_in_render("test", drop=("kafkaCatalog", "queryAudit"))
    # lineage stays on by default: only the OpenLineage listener remains
    plain, secret = rendered_files("test", render=render)
    assert OPENLINEAGE_LISTENER_FILE in plain
    assert not {KAFKA_LISTENER_FILE, KAFKA_CATALOG_FILE} & set(plain)
    assert not {KAFKA_CLIENT_FILE, KAFKA_CA_FILE} & secret


@pytest.mark.parametrize("stack", ["test", "prod"])
def test_trino_pods_wait_for_their_kafka_credential(stack: str) -> None:
    render = stand_in_render(stack)
    names = {r["urn"]: r["name"] for r in render.resources}
    for deployment in render.of_type("kubernetes:apps/v1:Deployment"):
        if not deployment["name"].startswith(f"dp-{stack}-trino-"):
            continue
        waits = {names.get(u) for u in deployment["options"]["depends_on"]}
        assert "kafka-credential-trino" in waits, deployment["name"]


def test_rendered_json_is_deterministic() -> None:
    first = json.loads(stand_in_render("prod").to_json())
    stand_in_render.cache_clear()
    assert json.loads(stand_in_render("prod").to_json()) == first


# --- who reads the kafka catalog (the test-only evaluator of the rendered rules.json) -----

KAFKA_READERS = {
    ("sales", "orders"): {"admins", "engineers", "stewards"},
    ("audit", "trino-queries"): {"admins", "stewards"},
}
"""Raw topics hold unmasked data: PII-clear roles and pipeline builders read them; the audit
trail (every user's SQL) only stewards and admins; nobody writes through Trino."""


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_kafka_catalog_is_read_only_for_its_readers_and_denied_to_everyone_else(
    stack: str,
) -> None:
    from components.trino.access import rules_document
    from tests.support.trino_evaluator import Identity, Rules

    policy = TrinoSettings.model_validate(trino_raw(stack)).access
    rules = Rules(rules_document(policy))
    for (schema, table), readers in KAFKA_READERS.items():
        for group in policy.groups:
            identity = Identity(user=group.members[0], groups=frozenset({group.name}))
            access = rules.table(identity, "kafka", schema, table)
            expected = {"SELECT"} if group.name in readers else set()
            assert set(access.privileges) == expected, (stack, group.name, schema, table)


def test_lineage_off_renders_no_listener() -> None:
    """`lineage: false` and no Kafka settings: no listener file and no listener line."""
    from components.trino.files import render_coordinator_config
    from components.trino.workloads import listener_files

    settings = TrinoSettings.model_validate(
        {**trino_raw("test"), "lineage": False, "kafkaCatalog": None, "queryAudit": None}
    )
    assert listener_files(settings, trino_uri="http://t:8080", lineage=None, stream=None) == ()
    config = render_coordinator_config(settings, discovery_uri="http://t:8080", shared_secret="s")
    assert "event-listener.config-files" not in parse_properties(config)
