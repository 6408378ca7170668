"""Dagster's `build` against fake producers that implement the contracts' Protocols.

The stack has no metrics producer yet (InfluxDB): `ServiceContext.metrics()` is None and
user code gets no InfluxDB env. These tests give the context a fake `MetricsProducer`
and check the seam: user code then gets the endpoint, org and bucket as env and the
token as a secret file, and waits for the producer's `ready`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
import yaml

from components.contracts import (
    DatabaseAccess,
    LineageAccess,
    MetricsAccess,
    MetricsProducer,
    ObjectStoreAccess,
    Peer,
    ServiceContext,
    StreamAccess,
)
from components.dagster.requirements import dagster_requirements
from components.dagster.service import build
from components.dagster.settings import DagsterSettings
from components.runtime.docker import DockerRuntime, DockerSettings
from components.runtime.kubernetes import KubernetesRuntime, KubernetesSettings
from components.runtime.stack import StackSettings, Target, Tier
from components.runtime.workload import Endpoint, WorkloadIdentity
from ops.render import Render, kubernetes_objects, render_program
from tests.conftest import docker_files

SETTINGS = DagsterSettings.model_validate(
    {
        "codeLocations": [
            {"name": "pipelines", "image": "ghcr.io/acme/pipelines:1.0.0", "module": "p"}
        ],
        "stream": {"read": ["sales.orders"], "write": ["quality.results"]},
        "alerts": {"slackWebhook": "https://hooks.slack.example/services/T0/B0/x"},
    }
)


def _peer(service: str, component: str, port: int) -> Peer:
    return Peer.of(WorkloadIdentity(service=service, component=component, version="1"), port)


class FakeDatabase:
    """A `DatabaseProducer` handing out one login."""

    def database_access(self, consumer: str, *, database: str, login: str) -> DatabaseAccess:
        return DatabaseAccess(
            peer=_peer("postgres", "server", 5432),
            endpoint=Endpoint(host="pg.example", port=5432),
            database=database,
            user=login,
            password=pulumi.Output.secret("pg-password"),
            require_tls=True,
            ca_certificate=pulumi.Output.from_input("-----BEGIN CERTIFICATE----- pg"),
            ready=(),
        )

    def sql_job(self, job: str, **_: Any) -> pulumi.Resource:
        raise AssertionError("dagster runs no SQL job")


class FakeObjectStore:
    """An `ObjectStoreProducer` with one granted bucket."""

    def object_store_access(self, consumer: str) -> ObjectStoreAccess:
        return ObjectStoreAccess(
            peer=_peer("minio", "server", 9000),
            endpoint=Endpoint(host="s3.example", port=9000, scheme="https"),
            access_key=f"dp-test-{consumer}",
            secret_key=pulumi.Output.secret("s3-secret"),
            buckets={"bronze": "dp-test-bronze"},
            ca_certificate=pulumi.Output.secret("-----BEGIN CERTIFICATE-----"),
            ready=(),
        )


class FakeStream:
    """A `StreamProducer` with SCRAM over TLS."""

    def stream_access(self, consumer: str) -> StreamAccess:
        return StreamAccess(
            peer=_peer("kafka", "broker", 9093),
            bootstrap_servers=("kafka-0.example:9093", "kafka-1.example:9093"),
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            user=consumer,
            password=pulumi.Output.secret("kafka-password"),
            ca_certificate=pulumi.Output.secret("-----BEGIN CERTIFICATE-----"),
            ready=(),
        )


class FakeLineage:
    """A `LineageProducer`."""

    def lineage_access(self, consumer: str) -> LineageAccess:
        return LineageAccess(
            peer=_peer("marquez", "api", 5000),
            endpoint=Endpoint(host="marquez.example", port=5000),
            namespace="dataplatform-test",
        )


class FakeMetrics:
    """A `MetricsProducer` (the InfluxDB seam)."""

    def metrics_access(self, consumer: str) -> MetricsAccess:
        return MetricsAccess(
            peer=_peer("influxdb", "server", 8086),
            endpoint=Endpoint(host="influxdb.example", port=8086),
            org="data-platform",
            bucket="quality",
            token=pulumi.Output.secret("influx-token"),
        )


def _render(*, metrics: bool, docker: bool = False) -> Render:
    def program() -> None:
        stack = StackSettings(
            environment="test",
            tier=Tier.TEST,
            target=Target.DOCKER if docker else Target.KUBERNETES,
            prefix="dp-test",
            owner="team",
            cost_center="cc-1",
        )
        runtime = (
            DockerRuntime("rt", stack=stack, settings=DockerSettings())
            if docker
            else KubernetesRuntime("rt", stack=stack, settings=KubernetesSettings())
        )
        holder = pulumi.ComponentResource("test:index:Holder", "holder")
        producers: list[object] = [FakeDatabase(), FakeObjectStore(), FakeStream(), FakeLineage()]
        if metrics:
            producers.append(FakeMetrics())
        context = ServiceContext(
            stack=stack,
            runtime=runtime,
            parent=holder,
            requirements=[dagster_requirements(SETTINGS)],
            producers=producers,
        )
        assert (context.metrics() is not None) is metrics
        build(context, SETTINGS)

    return render_program(program, stack="test")


def _location(render: Render) -> tuple[dict[str, str], dict[str, Any]]:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in kubernetes_objects(render)}
    pod = objects["Deployment", "dagster-code-pipelines"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    return env, objects["Secret", "dagster-code-pipelines-secrets"]["stringData"]


def test_requirements_declare_every_need() -> None:
    needs = dagster_requirements(SETTINGS)
    assert [d.database for d in needs.databases] == ["dagster"]
    assert {b.bucket for b in needs.buckets} == {"bronze", "silver", "gold"}
    assert needs.stream is not None
    assert (needs.stream.read, needs.stream.write) == (("sales.orders",), ("quality.results",))
    assert needs.lineage and needs.metrics


def test_without_a_metrics_producer_user_code_gets_no_influxdb() -> None:
    assert isinstance(FakeMetrics(), MetricsProducer)
    env, secret = _location(_render(metrics=False))
    assert not [k for k in env if k.startswith("INFLUXDB")]
    assert "var-run-secrets-dagster-influxdb-token" not in secret


def test_a_metrics_producer_reaches_user_code_as_env_and_a_token_file() -> None:
    render = _render(metrics=True)
    env, secret = _location(render)
    assert env["INFLUXDB_URL"] == "http://influxdb.example:8086"
    assert (env["INFLUXDB_ORG"], env["INFLUXDB_BUCKET"]) == ("data-platform", "quality")
    assert env["INFLUXDB_TOKEN_FILE"] == "/var/run/secrets/dagster/influxdb-token"
    assert secret["var-run-secrets-dagster-influxdb-token"] == "[secret]"
    policy = next(
        o
        for o in kubernetes_objects(render)
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "dagster-run-egress"
    )
    assert "influxdb" in str(policy["spec"]["egress"])


@pytest.mark.parametrize("metrics", [False, True])
def test_no_credential_of_any_producer_appears_outside_a_secret(metrics: bool) -> None:
    rendered = _render(metrics=metrics).to_json()
    for value in ("pg-password", "s3-secret", "kafka-password", "influx-token", "hooks.slack"):
        assert value not in rendered
    env, _ = _location(_render(metrics=metrics))
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka-0.example:9093,kafka-1.example:9093"
    assert env["KAFKA_CLIENT_PROPERTIES"] == "/var/run/secrets/dagster/kafka-client.properties"


def test_docker_runs_get_the_databases_trust_anchor_where_dagster_yaml_names_it() -> None:
    """On Docker a run container sees only the daemon's staged volume (at the runtime
    dir): the server's certificate must be staged there too, under the name that
    `dagster.yaml`'s `sslrootcert` gives, and every process copies its own there."""
    render = _render(metrics=False, docker=True)
    daemon = docker_files(render, "dp-test-dagster-daemon")
    instance = yaml.safe_load(daemon["/opt/dagster/dagster_home/dagster.yaml"])
    params = instance["storage"]["postgres"]["postgres_db"]["params"]
    assert params["sslmode"] == "verify-full"
    root = params["sslrootcert"]
    assert root == "/run/dagster/postgres-ca.crt"
    volumes = instance["run_launcher"]["config"]["container_kwargs"]["volumes"]
    assert [v["bind"] for v in volumes.values()] == ["/run/dagster"]
    assert "/var/run/secrets/dagster-runs/postgres-ca.crt" in daemon  # staged for runs
    assert "/var/run/secrets/dagster/postgres-ca.crt" in daemon  # the daemon's own
    containers = {c["name"]: c for c in render.of_type("docker:index/container:Container")}
    for name in ("dp-test-dagster-daemon", "dp-test-dagster-webserver"):
        command = containers[name]["inputs"]["command"][-1]
        assert f"cat /var/run/secrets/dagster/postgres-ca.crt > {root}" in command
