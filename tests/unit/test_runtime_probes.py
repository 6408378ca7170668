"""Health checks and pod lifecycle are the same on both targets (field failure 10, 03).

A probe that runs a command on Docker must run the same command on Kubernetes, not a
bare TCP connect; slow starters get a startup probe; pods with an fsGroup keep their data
directory's mode across remounts (fsGroupChangePolicy OnRootMismatch).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.runtime.kubernetes.pods import lifecycle as _lifecycle
from components.runtime.kubernetes.pods import probe as _probe
from components.runtime.workload import (
    Port,
    Probe,
    Resources,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from tests.conftest import KUBERNETES_STACKS, cached_render

POD_CONTROLLERS = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")


def _pods(stack: str) -> list[tuple[str, dict[str, Any]]]:
    render = cached_render(stack)
    return [
        (r["name"], r["inputs"]["spec"]["template"]["spec"])
        for kind in POD_CONTROLLERS
        for r in render.of_type(kind)
    ]


def _docker_health_commands(stack_prefix: str) -> dict[str, list[str]]:
    """Docker healthcheck commands of dev's servers, by `<service>-<component>`."""
    commands = {}
    for container in cached_render("dev").of_type("docker:index/container:Container"):
        health = container["inputs"].get("healthcheck")
        if health:
            commands[container["name"].removeprefix(f"{stack_prefix}-")] = health["tests"][1:]
    return commands


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_kubernetes_probes_run_the_docker_healthcheck_command(stack: str) -> None:
    docker = _docker_health_commands("dp-dev")
    checked = 0
    for name, pod in _pods(stack):
        workload = name.removeprefix(f"dp-{stack}-")
        if workload not in docker:
            continue
        container = pod["containers"][0]
        for probe in ("readinessProbe", "livenessProbe"):
            assert "tcpSocket" not in container[probe], f"{name} {probe} is a bare TCP connect"
            if "exec" in container[probe]:
                assert container[probe]["exec"]["command"][:2] == docker[workload][:2]
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_postgres_readiness_asks_the_server_not_the_port(stack: str) -> None:
    [pod] = [pod for name, pod in _pods(stack) if name.endswith("postgres-server")]
    readiness = pod["containers"][0]["readinessProbe"]
    assert readiness["exec"]["command"][0] == "pg_isready"


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_pods_with_fs_group_keep_data_directory_modes(stack: str) -> None:
    pods = [(n, p) for n, p in _pods(stack) if p["securityContext"].get("fsGroup") is not None]
    assert pods
    for name, pod in pods:
        assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch", name


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_minio_gets_a_startup_probe(stack: str) -> None:
    [pod] = [pod for name, pod in _pods(stack) if name.endswith("minio-server")]
    startup = pod["containers"][0]["startupProbe"]
    assert startup["exec"]["command"][:3] == ["mc", "ready", "local"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 120


def test_probe_forms() -> None:
    assert _probe(Probe(port=1, exec_command=("true",), path="/x")).exec_ is not None
    http = _probe(Probe(port=8443, path="/v1/info", scheme="HTTPS"))
    assert http.http_get is not None and http.tcp_socket is None and http.exec_ is None
    tcp = _probe(Probe(port=5432))
    assert tcp.tcp_socket is not None and tcp.http_get is None


def test_pre_stop_hook_and_grace_period() -> None:
    workload = Workload(
        identity=WorkloadIdentity(service="trino", component="worker", version="483"),
        kind=WorkloadKind.STATELESS,
        image="trinodb/trino:483",
        ports=(Port(name="http", container_port=8080),),
        resources=Resources(
            cpu_request="1", cpu_limit="2", memory_request="1Gi", memory_limit="2Gi"
        ),
        readiness=Probe(port=8080),
        liveness=Probe(port=8080),
        security=SecurityProfile(run_as_user=1000, run_as_group=1000),
        pre_stop=("/bin/drain",),
        termination_grace_period_seconds=300,
    )
    lifecycle = _lifecycle(workload)
    assert lifecycle is not None
    assert lifecycle.pre_stop.exec_.command == ["/bin/drain"]  # type: ignore[union-attr]
