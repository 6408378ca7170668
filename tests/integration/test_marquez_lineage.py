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
- a real Trino coordinator with the Trino component's own listener file:
  tests/integration/test_trino_lineage.py (CTAS and INSERT ... SELECT with column lineage).

The database half runs for real, from the stack's own render: the API container's
rendered command (the start script) and rendered `marquez.yml` run against a PostgreSQL
cluster with the stack's settings, with a stand-in for the image's entrypoint
(tests/integration/marquez_standin.py) that reads the file as Marquez does and logs in
with its `db` block. The password goes from the secret file into the environment and
the file; the login reaches the `marquez` database as `marquez`, over TLS where the
stack requires it, with the rights its migrations need.

Loopback substitution happens in ONE place per half: `_loopback` (the in-cluster URL
becomes the receiver's loopback address) and `_local_api` (the
database's address becomes the cluster's, container paths become test paths); nothing
else in the rendered values changes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset

from components.marquez.files import (
    APP_DIR,
    CONFIG_FILE,
    DATABASE_CA_FILE,
    ENTRYPOINT,
    LINEAGE_ENDPOINT,
    PASSWORD_FILE,
    openlineage_client_env,
)
from components.marquez.settings import MarquezSettings
from ops.render import kubernetes_objects, load_stack_config
from tests.conftest import cached_render, docker_files
from tests.integration.lineage_receiver import LineageReceiver, running_receiver
from tests.integration.pg_cluster import Cluster

STANDIN = Path(__file__).with_name("marquez_standin.py")

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
    """The stack's Marquez settings (its `marquez` section over its tier's defaults) and job
    namespace, as the program validates them."""
    config = load_stack_config(stack)
    assert config.marquez is not None, f"stack {stack} runs Marquez"
    return StackLineage(
        stack, config.marquez, config.marquez.job_namespace(config.platform.environment)
    )


def _loopback(receiver: LineageReceiver) -> dict[str, str]:
    """THE loopback substitution: the in-cluster Marquez URL -> the local receiver."""
    return {"marquez_url": receiver.url}


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


# --- the database half, on the real PostgreSQL ---------------------------------------------


@dataclass(frozen=True)
class RenderedApi:
    """What the stack's render gives the API container: its command and its marquez.yml."""

    command: list[str]
    marquez_yml: str


def rendered_api(stack: str) -> RenderedApi:
    """The API's command and `marquez.yml` from the stack's own render (Docker upload in
    dev, Deployment and ConfigMap on Kubernetes)."""
    render = cached_render(stack)
    if stack == "dev":
        container = render.named("dp-dev-marquez-api")["inputs"]
        files = docker_files(render, "dp-dev-marquez-api")
        return RenderedApi(container["command"], files[CONFIG_FILE])
    objects = {(o["kind"], o["metadata"]["name"]): o for o in kubernetes_objects(render)}
    pod = objects[("Deployment", "marquez-api")]["spec"]["template"]["spec"]
    config = objects[("ConfigMap", "marquez-api-config")]["data"]
    return RenderedApi(pod["containers"][0]["command"], config["etc-marquez-marquez.yml"])


@dataclass(frozen=True)
class LocalApi:
    """The rendered API start, localised: where its files and stand-in entrypoint live."""

    command: list[str]
    password_file: Path
    config_file: Path


def _local_api(api: RenderedApi, cluster: Cluster, directory: Path) -> LocalApi:
    """THE loopback substitution for the database half: the in-platform database address
    becomes the cluster's loopback address, and the container paths (password file,
    database CA file, config file, app directory holding the entrypoint) become paths
    under `directory`; the CA file holds the test server's certificate, as the API's
    secret file holds the server's. Nothing else of the rendered command or
    `marquez.yml` changes."""
    app = directory / "app"
    app.mkdir()
    entrypoint = app / Path(ENTRYPOINT).name
    entrypoint.write_text(f"#!/bin/sh\nexec {sys.executable} {STANDIN}\n")
    entrypoint.chmod(0o755)
    url = yaml.safe_load(api.marquez_yml)["db"]["url"]
    address = urlsplit(url.removeprefix("jdbc:")).netloc
    config_file = directory / "marquez.yml"
    ca_file = directory / Path(DATABASE_CA_FILE).name
    if cluster.ca_file is not None:
        ca_file.write_bytes(cluster.ca_file.read_bytes())
    config_file.write_text(
        api.marquez_yml.replace(f"//{address}/", f"//{cluster.host}:{cluster.port}/").replace(
            DATABASE_CA_FILE, str(ca_file)
        )
    )
    password_file = directory / "postgres-password"
    script = (
        api.command[2]
        .replace(PASSWORD_FILE, str(password_file))
        .replace(CONFIG_FILE, str(config_file))
        .replace(APP_DIR, str(app))
    )
    return LocalApi([*api.command[:2], script], password_file, config_file)


def _start(api: LocalApi) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"]}  # nothing else: the password must come from the file
    return subprocess.run(
        api.command, capture_output=True, text=True, env=env, check=False, timeout=60
    )


def test_the_rendered_api_start_logs_in_to_its_database_as_marquez(
    pg: Cluster, tmp_path: Path
) -> None:
    api = _local_api(rendered_api(pg.stack), pg, tmp_path)
    assert "${POSTGRES_PASSWORD}" in api.config_file.read_text()  # no secret in the file
    api.password_file.write_text(pg.password("marquez") + "\n")  # as the kubelet mounts it
    done = _start(api)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert (seen["database"], seen["user"], seen["ssl"]) == ("marquez", "marquez", pg.tls)
    url = yaml.safe_load(api.config_file.read_text())["db"]["url"]
    assert ("sslmode=verify-full&sslrootcert=" in url) is pg.tls  # the server was verified
    assert seen["cwd"] == str(tmp_path / "app")  # the jar's directory, as the image runs it


def test_a_wrong_password_file_keeps_the_api_out(pg: Cluster, tmp_path: Path) -> None:
    api = _local_api(rendered_api(pg.stack), pg, tmp_path)
    api.password_file.write_text("not0the0password")
    done = _start(api)
    assert done.returncode == 1
    assert 'password authentication failed for user "marquez"' in done.stderr
