"""The richer Workload on both targets: init steps, one-off and scheduled jobs, API identity.

Each test renders a throwaway workload through a real runtime under Pulumi's mocks and
asserts what a cluster or a Docker engine would be asked to create.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pytest

from components.runtime.docker import DockerRuntime, DockerSettings
from components.runtime.kubernetes import KubernetesRuntime, KubernetesSettings
from components.runtime.schedule import fixed_period, sleep_loop, validate_cron
from components.runtime.stack import StackSettings
from components.runtime.workload import (
    ApiAccess,
    ApiRule,
    Connection,
    InitStep,
    LaunchedPods,
    Port,
    Probe,
    Resources,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from ops.render import Render, render_program

RESOURCES = Resources(
    cpu_request="100m", cpu_limit="1", memory_request="128Mi", memory_limit="256Mi"
)
SECURITY = SecurityProfile(run_as_user=1000, run_as_group=1000)


def _stack(target: str) -> StackSettings:
    return StackSettings(
        environment="test",
        tier="test",
        target=target,
        prefix="dp-test",
        owner="team",
        cost_center="cc-1",
    )


def _job(kind: WorkloadKind, **extra: Any) -> Workload:
    return Workload(
        identity=WorkloadIdentity(service="backup", component="postgres", version="1.0"),
        kind=kind,
        image="docker.io/library/postgres:15.17",
        ports=(),
        resources=RESOURCES,
        security=SECURITY,
        command=("pg_dump", "--version"),
        **extra,
    )


def _server(**extra: Any) -> Workload:
    return Workload(
        identity=WorkloadIdentity(service="demo", component="server", version="1.0"),
        kind=WorkloadKind.STATELESS,
        image="docker.io/library/nginx:1.27.0",
        ports=(Port(name="http", container_port=8080),),
        resources=RESOURCES,
        security=SECURITY,
        readiness=Probe(port=8080, exec_command=("true",)),
        liveness=Probe(port=8080, exec_command=("true",)),
        **extra,
    )


def _render(target: str, *workloads: Workload) -> Render:
    def program() -> None:
        stack = _stack(target)
        runtime: DockerRuntime | KubernetesRuntime
        if target == "docker":
            runtime = DockerRuntime("rt", stack=stack, settings=DockerSettings())
        else:
            runtime = KubernetesRuntime("rt", stack=stack, settings=KubernetesSettings())
        holder = pulumi.ComponentResource("test:index:Holder", "holder")
        for workload in workloads:
            runtime.deploy(workload, parent=holder)

    return render_program(program, stack="test")


def _kinds(render: Render) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for resource in render.resources:
        kinds.setdefault(resource["type"].rsplit(":", 1)[-1], []).append(resource)
    return kinds


def test_kubernetes_job_runs_once_without_token_or_ports() -> None:
    kinds = _kinds(_render("kubernetes", _job(WorkloadKind.JOB, active_deadline_seconds=600)))
    [job] = kinds["Job"]
    spec = job["inputs"]["spec"]
    assert spec["backoffLimit"] == 3 and spec["activeDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "OnFailure"
    assert pod["automountServiceAccountToken"] is False
    assert "readinessProbe" not in pod["containers"][0]
    assert "Service" not in kinds and "PodDisruptionBudget" not in kinds


def test_kubernetes_cron_job_keeps_the_schedule_in_utc() -> None:
    kinds = _kinds(_render("kubernetes", _job(WorkloadKind.SCHEDULED, schedule="15 2 * * *")))
    [cron] = kinds["CronJob"]
    spec = cron["inputs"]["spec"]
    assert spec["schedule"] == "15 2 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"]


def test_init_steps_run_before_the_container_on_both_targets() -> None:
    workload = _server(init=(InitStep(name="migrate", command=("migrate", "up"), env={"X": "1"}),))
    [deployment] = _kinds(_render("kubernetes", workload))["Deployment"]
    [init] = deployment["inputs"]["spec"]["template"]["spec"]["initContainers"]
    assert init["command"] == ["migrate", "up"]
    assert init["securityContext"]["runAsNonRoot"] is True
    assert {"name": "X", "value": "1"} in init["env"]
    containers = {
        c["name"]: c
        for c in _render("docker", workload).of_type("docker:index/container:Container")
    }
    step = containers["dp-test-demo-server-init-migrate"]
    assert step["inputs"]["command"] == ["migrate", "up"] and step["inputs"]["attach"] is True
    server = next(
        r for r in _render("docker", workload).resources if r["name"] == "dp-test-demo-server"
    )
    assert any(dep.endswith("dp-test-demo-server-init-migrate") for dep in server["dependencies"])


def test_api_access_gets_a_namespaced_role_and_a_token() -> None:
    access = ApiAccess(
        rules=(ApiRule(api_groups=("batch",), resources=("jobs",), verbs=("create", "get")),)
    )
    kinds = _kinds(_render("kubernetes", _server(api_access=access)))
    [role] = kinds["Role"]
    assert role["inputs"]["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get"]}
    ]
    [binding] = kinds["RoleBinding"]
    assert binding["inputs"]["roleRef"]["kind"] == "Role"
    assert binding["inputs"]["subjects"][0]["namespace"] == "dp-test"
    [account] = kinds["ServiceAccount"]
    assert account["inputs"]["automountServiceAccountToken"] is True
    assert "ClusterRole" not in kinds


def test_workloads_without_api_access_get_no_token() -> None:
    kinds = _kinds(_render("kubernetes", _server()))
    assert "Role" not in kinds
    [account] = kinds["ServiceAccount"]
    assert account["inputs"]["automountServiceAccountToken"] is False


def test_docker_job_and_schedule() -> None:
    render = _render(
        "docker",
        _job(WorkloadKind.JOB),
        dataclasses.replace(
            _job(WorkloadKind.SCHEDULED, schedule="*/15 * * * *"),
            identity=WorkloadIdentity(service="backup", component="nightly", version="1.0"),
        ),
    )
    containers = {
        c["name"]: c["inputs"] for c in render.of_type("docker:index/container:Container")
    }
    job = containers["dp-test-backup-postgres"]
    assert job["mustRun"] is False and job["attach"] is True and job["restart"] == "no"
    scheduled = containers["dp-test-backup-nightly"]
    assert scheduled["command"][:2] == ["/bin/sh", "-c"] and "period=900" in scheduled["command"][2]
    assert scheduled["command"][-2:] == ["pg_dump", "--version"]


@pytest.mark.parametrize(
    ("expression", "period", "offset"),
    [("*/15 * * * *", 900, 0), ("30 2 * * *", 86400, 9000), ("0 3 * * 0", 604800, 270000)],
)
def test_fixed_period_schedules(expression: str, period: int, offset: int) -> None:
    assert fixed_period(expression) == (period, offset)


@pytest.mark.parametrize("expression", ["0 9 * * 1-5", "0 0 1 * *"])
def test_uneven_schedules_are_refused_for_docker(expression: str) -> None:
    with pytest.raises(ValueError, match="no fixed period"):
        sleep_loop(expression)


@pytest.mark.parametrize("expression", ["61 * * * *", "* * *", "@hourly", "not cron"])
def test_invalid_cron_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="five-field cron"):
        validate_cron(expression)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": WorkloadKind.STATELESS}, "needs readiness and liveness"),
        ({"kind": WorkloadKind.SCHEDULED}, "schedule belongs"),
        ({"kind": WorkloadKind.JOB, "schedule": "* * * * *"}, "schedule belongs"),
        ({"kind": WorkloadKind.JOB, "replicas": 2}, "runs once"),
    ],
)
def test_inconsistent_workloads_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _job(**kwargs)


def test_a_single_instance_is_recreated_never_surged() -> None:
    [deployment] = _kinds(_render("kubernetes", _server(single_instance=True)))["Deployment"]
    assert deployment["inputs"]["spec"]["strategy"] == {"type": "Recreate"}
    [surged] = _kinds(_render("kubernetes", _server()))["Deployment"]
    assert surged["inputs"]["spec"]["strategy"]["type"] == "RollingUpdate"
    docker = {r["name"]: r for r in _render("docker", _server(single_instance=True)).resources}
    assert docker["dp-test-demo-server"]["options"]["delete_before_replace"] is True
    plain = {r["name"]: r for r in _render("docker", _server()).resources}
    assert plain["dp-test-demo-server"]["options"]["delete_before_replace"] is False


@pytest.mark.parametrize(
    "kwargs",
    [{"single_instance": True, "replicas": 2}],
)
def test_a_single_instance_has_one_replica(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="single_instance needs a stateless workload with one"):
        _server(**kwargs)


def test_only_docker_mounts_the_engine_socket_and_read_only() -> None:
    containers = {
        c["name"]: c["inputs"]
        for c in _render("docker", _server(engine_socket=True)).of_type(
            "docker:index/container:Container"
        )
    }
    assert containers["dp-test-demo-server"]["mounts"] == [
        {
            "readOnly": True,
            "source": "/var/run/docker.sock",
            "target": "/var/run/docker.sock",
            "type": "bind",
        }
    ]
    plain = _render("docker", _server()).of_type("docker:index/container:Container")
    assert not any("docker.sock" in str(c["inputs"].get("mounts")) for c in plain)
    with pytest.raises(Exception, match="the engine socket exists on Docker only"):
        _render("kubernetes", _server(engine_socket=True))


def test_launched_pods_get_network_policies_of_their_own() -> None:
    launched = LaunchedPods(
        identity=WorkloadIdentity(service="demo", component="run", version="1.0"),
        connections=(Connection(service="postgres", component="server", port=5432),),
    )
    policies = {
        p["inputs"]["metadata"]["name"]: p["inputs"]["spec"]
        for p in _kinds(_render("kubernetes", _server(launches=launched)))["NetworkPolicy"]
    }
    egress = policies["demo-run-egress"]
    assert egress["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "run",
        "app.kubernetes.io/name": "demo",
    }
    assert egress["egress"][0]["ports"] == [{"port": 5432, "protocol": "TCP"}]
    ingress = policies["demo-run-to-postgres-server"]
    assert ingress["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "run",
        "app.kubernetes.io/name": "demo",
    }
    assert "demo-server-egress" not in policies  # the server itself declared no connection


def test_a_server_without_ports_gets_no_service() -> None:
    portless = dataclasses.replace(_server(), ports=())
    assert "Service" not in _kinds(_render("kubernetes", portless))
    assert len(_kinds(_render("kubernetes", _server()))["Service"]) == 1


def _render_with_api_server(*workloads: Workload) -> Render:
    def program() -> None:
        settings = KubernetesSettings(api_server_cidrs=("10.96.0.1/32", "172.20.0.0/28"))
        runtime = KubernetesRuntime("rt", stack=_stack("kubernetes"), settings=settings)
        holder = pulumi.ComponentResource("test:index:Holder", "holder")
        for workload in workloads:
            runtime.deploy(workload, parent=holder)

    return render_program(program, stack="test")


def test_only_workloads_calling_the_api_may_reach_the_api_server() -> None:
    access = ApiAccess(rules=(ApiRule(api_groups=("batch",), resources=("jobs",), verbs=("get",)),))
    caller = _server(api_access=access)
    other = dataclasses.replace(
        _server(), identity=WorkloadIdentity(service="demo", component="other", version="1.0")
    )
    policies = {
        p["inputs"]["metadata"]["name"]: p["inputs"]["spec"]
        for p in _kinds(_render_with_api_server(caller, other))["NetworkPolicy"]
    }
    egress = policies["demo-server-to-api-server"]
    assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    [rule] = egress["egress"]
    assert [peer["ipBlock"]["cidr"] for peer in rule["to"]] == ["10.96.0.1/32", "172.20.0.0/28"]
    assert {port["port"] for port in rule["ports"]} == {443, 6443}
    assert "demo-other-to-api-server" not in policies
    without = {p["name"] for p in _kinds(_render("kubernetes", caller))["NetworkPolicy"]}
    assert not [name for name in without if name.endswith("to-api-server")]
