"""Trino's query lineage, as the component renders it, reaches an OpenLineage endpoint.

A real Trino 476 coordinator runs the component's own files: `config.properties` from
`render_coordinator_config` (the dev stack's settings: no TLS or passwords to fake here)
with its `event-listener.config-files` line, and the OpenLineage listener file from
`listener_files` (the workloads' function) for each stack's settings, given the lineage
endpoint a `LineageProducer` hands Trino. Loopback substitution is the endpoint itself (the
local receiver of tests/integration/lineage_receiver.py, which answers as Marquez's
`POST /api/v1/lineage` does) and the coordinator's own URI; paths and ports change only in
tests/integration/trino_lineage.py. The memory catalog stands in for the lake (a CTAS and an
INSERT ... SELECT are what lineage is about; the listener does not care which connector).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import javaproperties
import pytest

from components.marquez.settings import MarquezSettings
from components.runtime.workload import Connection
from components.trino.connections import LineageConnection
from components.trino.files import CATALOG_DIR, CONFIG_DIR, render_coordinator_config
from components.trino.streams import OPENLINEAGE_LISTENER_FILE
from components.trino.workloads import listener_files
from tests.integration.lineage_receiver import LineageReceiver, running_receiver
from tests.integration.trino_lineage import (
    LoopbackPaths,
    require_plugins,
    running_coordinator,
    stack_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[LineageReceiver]:
    """The lineage producer's endpoint, locally."""
    with running_receiver() as running:
        yield running


def coordinator_files(
    stack: str, receiver: LineageReceiver, paths: LoopbackPaths
) -> dict[str, str]:
    """The component's listener file for `stack` and the dev coordinator's config loading it."""
    settings = stack_settings(stack)
    lineage = LineageConnection(
        url=receiver.url,
        namespace=MarquezSettings().job_namespace(stack),
        peer=Connection(service="marquez", component="api", port=5000),
    )
    listeners = listener_files(settings, trino_uri=paths.uri, lineage=lineage, stream=None)
    config = render_coordinator_config(
        stack_settings("dev"),
        discovery_uri=paths.uri,
        shared_secret=None,
        event_listeners=[f.path for f in listeners],
    )
    return {
        f"{CONFIG_DIR}/config.properties": config,
        f"{CATALOG_DIR}/memory.properties": "connector.name=memory\n",
        **{f.path: f.content for f in listeners},
    }


def _complete_writing(events: list[dict[str, Any]], output: str) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["eventType"] == "COMPLETE" and [o["name"] for o in e.get("outputs", [])] == [output]
    ]


def _column_sources(event: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    (output,) = event["outputs"]
    fields = output["facets"]["columnLineage"]["fields"]
    return {
        column: {(f["name"], f["field"]) for f in lineage["inputFields"]}
        for column, lineage in fields.items()
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_ctas_and_insert_select_send_column_lineage(stack: str, receiver: LineageReceiver) -> None:
    require_plugins("memory", "openlineage")
    rendered: dict[str, str] = {}

    def render(paths: LoopbackPaths) -> dict[str, str]:
        rendered.update(coordinator_files(stack, receiver, paths))
        return rendered

    with running_coordinator(render, plugins=("memory", "openlineage")) as trino:
        trino.run(
            "CREATE TABLE orders (id bigint, amount double, customer varchar)",
            "INSERT INTO orders VALUES (1, 2.5, 'ada'), (2, 4.0, 'ada')",
            "SELECT count(*) FROM orders",
            "CREATE TABLE revenue AS "
            "SELECT customer, sum(amount) AS total FROM orders GROUP BY customer",
            "INSERT INTO revenue SELECT customer, amount FROM orders WHERE id = 1",
        )
        events = receiver.wait_for(
            lambda seen: len(_complete_writing(seen, "memory.default.revenue")) == 2
        )
    print(f"Trino 476 with the OpenLineage listener started in {trino.startup_seconds:.0f} s")

    listener = javaproperties.loads(rendered[OPENLINEAGE_LISTENER_FILE])
    assert listener["openlineage-event-listener.trino.uri"] == trino.uri
    assert set(receiver.paths) == {"/api/v1/lineage"}
    assert {e["job"]["namespace"] for e in events} == {f"dataplatform-{stack}"}
    dataset_namespace = trino.uri.replace("http://", "trino://")
    starts = {e["run"]["runId"] for e in events if e["eventType"] == "START"}
    ctas, insert = _complete_writing(events, "memory.default.revenue")
    for event in (ctas, insert):
        assert event["run"]["runId"] in starts
        assert [(i["namespace"], i["name"]) for i in event["inputs"]] == [
            (dataset_namespace, "memory.default.orders")
        ]
        assert _column_sources(event) == {
            "customer": {("memory.default.orders", "customer")},
            "total": {("memory.default.orders", "amount")},
        }
    # A plain SELECT writes nothing: it is not lineage and is not sent.
    assert all(e.get("outputs") or e["eventType"] == "START" for e in events)
