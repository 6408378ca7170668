"""Lineage reaches Marquez's OpenLineage endpoint as the rendered config sends it.

Marquez's server cannot run here: its API artifact (`io.github.marquezproject:marquez-api`)
is not served by the Maven repository reachable here and its image cannot be pulled
(docs/marquez.md). So these tests run a local receiver that speaks the endpoint Marquez
serves for OpenLineage (tests/integration/lineage_receiver.py: `POST /api/v1/lineage`,
201; 400 for a body that is not JSON, 422 for one that is not a valid RunEvent) and send
it lineage two real ways:

- the `openlineage-python` client configured from `openlineage_client_env` through the
  environment, exactly as a code location would be (START and COMPLETE with inputs,
  outputs and a column lineage facet), for each stack's job namespace;
- a real Trino coordinator (476, tests/integration/trino_lineage.py) whose event listener
  file is `trino_openlineage_file` unchanged: CTAS and INSERT ... SELECT reach the
  receiver with column lineage.

The database half runs for real: the rendered `db` block reaches the `marquez` database
on a PostgreSQL cluster with the stack's settings, as the `marquez` login, with rights
to migrate it.

Loopback substitution happens in ONE place, `_loopback`: in-cluster URLs become the
receiver's and the coordinator's loopback addresses (and, for the database, the cluster's
address and TLS mode); nothing else in the rendered values changes.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import psycopg2
import pytest
import requests
import yaml
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset

from components.marquez.files import (
    LINEAGE_ENDPOINT,
    PostgresEndpoint,
    marquez_yml,
    openlineage_client_env,
    trino_openlineage_file,
)
from components.marquez.settings import MarquezSettings
from ops.render import load_stack_config
from tests.integration.lineage_receiver import LineageReceiver, running_receiver
from tests.integration.pg_cluster import Cluster

pytestmark = pytest.mark.integration

PRODUCER = "https://github.com/dataplatform/pipelines/tests"


@pytest.fixture
def receiver() -> Iterator[LineageReceiver]:
    """Marquez's OpenLineage endpoint, locally."""
    with running_receiver() as running:
        yield running


@dataclass(frozen=True)
class StackLineage:
    """What the stack renders for lineage: settings and its job namespace."""

    stack: str
    settings: MarquezSettings
    namespace: str


def stack_lineage(stack: str) -> StackLineage:
    """The stack's Marquez settings (its `marquez` section once the program reads one, else
    the tier's defaults) and job namespace."""
    config = load_stack_config(stack)
    settings = getattr(config, "marquez", None) or MarquezSettings.for_tier(
        config.platform.tier, {}
    )
    return StackLineage(stack, settings, settings.job_namespace(config.platform.environment))


def _loopback(
    receiver: LineageReceiver, *, trino_uri: str = "http://127.0.0.1:8080"
) -> dict[str, str]:
    """THE loopback substitution: in-cluster URLs -> the local receiver and coordinator."""
    return {"marquez_url": receiver.url, "trino_uri": trino_uri}


def _events(namespace: str) -> tuple[RunEvent, RunEvent]:
    """START and COMPLETE of one run reading two tables and writing one, with column lineage."""
    run = Run(runId=str(uuid.uuid4()))
    job = Job(namespace=namespace, name="sales.daily_revenue")
    inputs = [
        InputDataset(namespace="postgres://warehouse", name="staging.orders"),
        InputDataset(namespace="postgres://warehouse", name="curated.customers"),
    ]
    lineage = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "revenue": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace="postgres://warehouse", name="staging.orders", field="amount"
                    )
                ],
                transformationDescription="sum(amount)",
                transformationType="AGGREGATION",
            ),
            "customer_id": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        namespace="postgres://warehouse", name="curated.customers", field="id"
                    )
                ],
                transformationType="IDENTITY",
            ),
        }
    )
    schema = schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name="customer_id", type="integer"),
            schema_dataset.SchemaDatasetFacetFields(name="revenue", type="numeric"),
        ]
    )
    outputs = [
        OutputDataset(
            namespace="postgres://warehouse",
            name="curated.daily_revenue",
            facets={"columnLineage": lineage, "schema": schema},
        )
    ]

    def event(state: RunState) -> RunEvent:
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=run,
            job=job,
            producer=PRODUCER,
            inputs=inputs,
            outputs=outputs,
        )

    return event(RunState.START), event(RunState.COMPLETE)


@pytest.mark.parametrize("stack", ["dev", "test", "prod"])
def test_a_code_location_client_posts_start_and_complete_with_column_lineage(
    stack: str, receiver: LineageReceiver
) -> None:
    lineage = stack_lineage(stack)
    env = openlineage_client_env(
        marquez_url=_loopback(receiver)["marquez_url"], namespace=lineage.namespace
    )
    # The client reads its transport from the environment, as in a code location's
    # container; patch.dict restores os.environ (the client adds aliases of its own).
    with mock.patch.dict("os.environ", env):
        client = OpenLineageClient()
        start, complete = _events(env["OPENLINEAGE_NAMESPACE"])
        client.emit(start)
        client.emit(complete)

    assert receiver.paths == [LINEAGE_ENDPOINT, LINEAGE_ENDPOINT]
    assert [e["eventType"] for e in receiver.events] == ["START", "COMPLETE"]
    run_ids = {e["run"]["runId"] for e in receiver.events}
    assert run_ids == {start.run.runId}
    done = receiver.events[1]
    assert (done["job"]["namespace"], done["job"]["name"]) == (
        f"dataplatform-{stack}",
        "sales.daily_revenue",
    )
    assert [d["name"] for d in done["inputs"]] == ["staging.orders", "curated.customers"]
    (output,) = done["outputs"]
    assert output["name"] == "curated.daily_revenue"
    fields = output["facets"]["columnLineage"]["fields"]
    sources = {
        column: [(f["namespace"], f["name"], f["field"]) for f in lineage["inputFields"]]
        for column, lineage in fields.items()
    }
    assert sources == {
        "revenue": [("postgres://warehouse", "staging.orders", "amount")],
        "customer_id": [("postgres://warehouse", "curated.customers", "id")],
    }


def test_the_receiver_refuses_what_marquez_would(receiver: LineageReceiver) -> None:
    bad = {"eventType": "START", "eventTime": "now", "producer": PRODUCER, "job": {}}
    answer = requests.post(receiver.url + LINEAGE_ENDPOINT, json=bad, timeout=5)
    assert answer.status_code == 422
    answer = requests.post(receiver.url + LINEAGE_ENDPOINT, data="{not json", timeout=5)
    assert answer.status_code == 400
    not_uuid = {
        "eventType": "START",
        "eventTime": "2026-11-29T12:00:00Z",
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": "run-1"},
        "job": {"namespace": "n", "name": "j"},
    }
    answer = requests.post(receiver.url + LINEAGE_ENDPOINT, json=not_uuid, timeout=5)
    assert answer.status_code == 422
    assert "is not a 'uuid'" in answer.json()["error"]
    assert receiver.events == []


def _require_trino() -> None:
    from tests.integration.trino_lineage import openlineage_plugin
    from tests.integration.trino_server import Unavailable

    try:
        openlineage_plugin()
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Trino (scripts/install-trino.sh): {reason}")
        pytest.skip(str(reason))


def _complete(events: list[dict[str, Any]], output: str) -> dict[str, Any] | None:
    for event in events:
        names = [o["name"] for o in event.get("outputs", [])]
        if event["eventType"] == "COMPLETE" and names == [output]:
            return event
    return None


def _column_sources(event: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    (output,) = event["outputs"]
    fields = output["facets"]["columnLineage"]["fields"]
    return {
        column: {(f["name"], f["field"]) for f in lineage["inputFields"]}
        for column, lineage in fields.items()
    }


def test_trino_sends_column_lineage_of_ctas_and_insert_select(receiver: LineageReceiver) -> None:
    from tests.integration.trino_lineage import running_lineage_trino

    _require_trino()
    lineage = stack_lineage("prod")

    def listener_file(trino_uri: str) -> str:
        return trino_openlineage_file(
            namespace=lineage.namespace, **_loopback(receiver, trino_uri=trino_uri)
        )

    with running_lineage_trino(listener_file) as trino:
        trino.run(
            "CREATE TABLE orders (id bigint, amount double, customer varchar)",
            "INSERT INTO orders VALUES (1, 2.5, 'ada'), (2, 4.0, 'ada')",
            "SELECT count(*) FROM orders",
            "CREATE TABLE revenue AS "
            "SELECT customer, sum(amount) AS total FROM orders GROUP BY customer",
            "INSERT INTO revenue SELECT customer, amount FROM orders WHERE id = 1",
        )
        events = receiver.wait_for(
            lambda seen: (
                sum(_complete([e], "memory.default.revenue") is not None for e in seen) == 2
            )
        )

    assert set(receiver.paths) == {LINEAGE_ENDPOINT}
    assert {e["job"]["namespace"] for e in events} == {"dataplatform-prod"}
    dataset_namespace = trino.uri.replace("http://", "trino://")
    ctas, insert = [e for e in events if _complete([e], "memory.default.revenue")]
    for event in (ctas, insert):
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [
            (dataset_namespace, "memory.default.orders")
        ]
        starts = [e for e in events if e["eventType"] == "START"]
        assert event["run"]["runId"] in {s["run"]["runId"] for s in starts}
        assert _column_sources(event) == {
            "customer": {("memory.default.orders", "customer")},
            "total": {("memory.default.orders", "amount")},
        }
    # A plain SELECT writes nothing: it is not lineage and is not sent.
    assert all(e.get("outputs") or e["eventType"] == "START" for e in events)


# --- the database half, on the real PostgreSQL ---------------------------------------------


def _connect_as_rendered(cluster: Cluster, document: dict[str, Any]) -> Any:
    """Connect with exactly the rendered JDBC URL's host, port, database, user and sslmode."""
    url = urlsplit(document["db"]["url"].removeprefix("jdbc:"))
    query = dict(part.split("=", 1) for part in url.query.split("&"))
    conn = psycopg2.connect(
        host=url.hostname,
        port=url.port,
        dbname=url.path.lstrip("/"),
        user=document["db"]["user"],
        password=cluster.password(document["db"]["user"]),
        sslmode=query["sslmode"],
        connect_timeout=5,
    )
    conn.autocommit = True
    return conn


def test_the_rendered_db_block_reaches_a_database_marquez_can_migrate(pg: Cluster) -> None:
    lineage = stack_lineage(pg.stack)
    # Loopback substitution for the database: the cluster's address and TLS mode.
    db = PostgresEndpoint(
        host=pg.host,
        port=pg.port,
        database=lineage.settings.database,
        user=lineage.settings.login,
        sslmode="require" if pg.tls else "disable",
    )
    document = yaml.safe_load(marquez_yml(lineage.settings, db))
    assert document["db"]["password"] == "${POSTGRES_PASSWORD}"
    conn = _connect_as_rendered(pg, document)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute(
            "SELECT current_database(), current_user, ssl FROM pg_stat_ssl "
            "WHERE pid = pg_backend_pid()"
        )
        assert cur.fetchone() == ("marquez", "marquez", pg.tls)
        # What Flyway's first migrations do: tables, indexes and plpgsql functions in public.
        cur.execute("CREATE TABLE flyway_probe (uuid uuid PRIMARY KEY, name varchar(255))")
        cur.execute("CREATE INDEX flyway_probe_name ON flyway_probe (name)")
        cur.execute(
            "CREATE FUNCTION flyway_probe_fn() RETURNS int LANGUAGE plpgsql "
            "AS $$ BEGIN RETURN 1; END $$"
        )
        cur.execute("DROP FUNCTION flyway_probe_fn(); DROP TABLE flyway_probe")
