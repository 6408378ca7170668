"""Marquez as each stack renders it (Pulumi mocks): the API and web workloads, its own
database and login, `marquez.yml` with the stack's database and retention, the password
only as a secret file, network paths from declared connections, and lineage handed to
consumers through the `LineageProducer` contract."""

from __future__ import annotations

import functools
from typing import Any

import pulumi
import pytest
import yaml
from pydantic import BaseModel

from components.contracts import LineageProducer, Requirements, Service, ServiceContext
from components.marquez.files import CONFIG_FILE, PASSWORD_FILE
from components.runtime.workload import (
    Port,
    Probe,
    Resources,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from infra.platform import DataPlatform
from infra.services import SERVICES, enabled_settings
from ops.render import Render, kubernetes_objects, load_stack_config, render_program
from tests.conftest import KUBERNETES_STACKS, STACKS, cached_render, docker_files

RETENTION_DAYS = {"dev": 7, "test": 14, "prod": 90}
REPLICAS = {"test": 1, "prod": 2}
POSTGRES_HOST = {
    "dev": "postgres-server",
    "test": "postgres-server.dp-test.svc.cluster.local",
    "prod": "postgres-server.dp-prod.svc.cluster.local",
}
VERIFY = "verify-full&sslrootcert=/var/run/secrets/marquez/postgres-ca.crt"
SSLMODE = {"dev": "disable", "test": VERIFY, "prod": VERIFY}
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


def _objects(stack: str, kind: str) -> dict[str, dict[str, Any]]:
    """The stack's Kubernetes objects of `kind`, by name."""
    return {
        o["metadata"]["name"]: o
        for o in kubernetes_objects(cached_render(stack))
        if o["kind"] == kind
    }


def _marquez_yml(stack: str) -> dict[str, Any]:
    """The `marquez.yml` the API reads in `stack` (ConfigMap on Kubernetes, upload on Docker)."""
    if stack == "dev":
        return yaml.safe_load(docker_files(cached_render("dev"), "dp-dev-marquez-api")[CONFIG_FILE])
    config = _objects(stack, "ConfigMap")["marquez-api-config"]
    return yaml.safe_load(config["data"]["etc-marquez-marquez.yml"])


def _container(stack: str, component: str) -> dict[str, Any]:
    deployment = _objects(stack, "Deployment")[f"marquez-{component}"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


# --- workloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_api_and_web_run_as_replicated_deployments_per_tier(stack: str) -> None:
    deployments = _objects(stack, "Deployment")
    budgets = _objects(stack, "PodDisruptionBudget")
    for component in ("api", "web"):
        deployment = deployments[f"marquez-{component}"]
        assert deployment["spec"]["replicas"] == REPLICAS[stack]
        # Replicated tiers keep one pod through a node drain; a single pod gets no budget
        # (one that allowed zero evictions would block the drain).
        if REPLICAS[stack] > 1:
            assert budgets[f"marquez-{component}"]["spec"]["maxUnavailable"] == 1
        else:
            assert f"marquez-{component}" not in budgets


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_api_serves_5000_and_is_probed_on_the_admin_port(stack: str) -> None:
    container = _container(stack, "api")
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "http": 5000,
        "admin": 5001,
    }
    for probe in ("startupProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"][-1] == "http://127.0.0.1:5001/healthcheck"
    # A database outage makes pods unready, never restarts them all.
    assert container["livenessProbe"]["exec"]["command"][-1] == "http://127.0.0.1:5001/ping"
    # Flyway migrates before the server binds: the startup probe allows five minutes.
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    service = _objects(stack, "Service")["marquez-api"]
    assert {p["port"] for p in service["spec"]["ports"]} == {5000, 5001}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_both_tiers_run_non_root_read_only_with_tmp_scratch(stack: str) -> None:
    for component in ("api", "web"):
        container = _container(stack, component)
        security = container["securityContext"]
        assert security["runAsUser"] >= 10000 and security["runAsNonRoot"] is True
        assert security["readOnlyRootFilesystem"] is True
        assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
        assert container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_web_reaches_the_api_by_the_runtimes_name_for_it(stack: str) -> None:
    env = {e["name"]: e["value"] for e in _container(stack, "web")["env"]}
    assert env == {
        "MARQUEZ_HOST": f"marquez-api.dp-{stack}.svc.cluster.local",
        "MARQUEZ_PORT": "5000",
        "WEB_PORT": "3000",
    }
    assert "marquez-api" in _objects(stack, "Service")  # the Service behind that name


def test_dev_runs_both_on_docker_with_the_ui_on_loopback_only() -> None:
    containers = {
        c["name"]: c["inputs"]
        for c in cached_render("dev").of_type("docker:index/container:Container")
    }
    api, web = containers["dp-dev-marquez-api"], containers["dp-dev-marquez-web"]
    assert api.get("ports") is None  # the API is reached on the stack's network only
    assert web["ports"] == [
        {"external": 13300, "internal": 3000, "ip": "127.0.0.1", "protocol": "tcp"}
    ]
    assert "MARQUEZ_HOST=marquez-api" in web["envs"]
    assert api["healthcheck"]["tests"][-1] == "http://127.0.0.1:5001/healthcheck"
    assert (api["user"], web["user"]) == ("10001:10001", "10002:10002")
    assert api["readOnly"] is web["readOnly"] is True


# --- database ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_postgres_creates_the_marquez_database_and_its_login(stack: str) -> None:
    render = cached_render(stack)
    [database] = [
        r["inputs"]
        for r in render.of_type("postgresql:index/database:Database")
        if r["inputs"]["name"] == "marquez"
    ]
    assert database["owner"] == "postgres"  # the admin owns it; the login works by grants
    [role] = [
        r["inputs"]
        for r in render.of_type("postgresql:index/role:Role")
        if r["inputs"]["name"] == "marquez"
    ]
    assert role["login"] is True and role["superuser"] is False
    grants = {
        (g["inputs"]["objectType"], tuple(g["inputs"]["privileges"]))
        for g in render.of_type("postgresql:index/grant:Grant")
        if g["inputs"]["role"] == "marquez" and g["inputs"]["database"] == "marquez"
    }
    # What Flyway needs to migrate the schema as the login: connect, create in `public`.
    assert ("database", ("CONNECT", "CREATE", "TEMPORARY")) in grants
    assert ("schema", ("CREATE", "USAGE")) in grants


@pytest.mark.parametrize("stack", STACKS)
def test_api_starts_only_after_its_login_and_database_exist(stack: str) -> None:
    render = cached_render(stack)
    kind = "docker:index/container:Container" if stack == "dev" else "kubernetes:apps/v1:Deployment"
    [api] = [r for r in render.of_type(kind) if r["name"] == f"dp-{stack}-marquez-api"]
    names = {r["urn"]: r["name"] for r in render.resources}
    waits = {names[u] for u in api["options"]["depends_on"] if u in names}
    assert {f"dp-{stack}-postgres-role-marquez", f"dp-{stack}-postgres-db-marquez"} <= waits


# --- marquez.yml -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_marquez_yml_connects_to_the_stacks_marquez_database(stack: str) -> None:
    db = _marquez_yml(stack)["db"]
    assert db["url"] == (
        f"jdbc:postgresql://{POSTGRES_HOST[stack]}:5432/marquez?sslmode={SSLMODE[stack]}"
    )
    assert db["user"] == "marquez"
    assert db["password"] == "${POSTGRES_PASSWORD}"  # filled at start from the secret file


@pytest.mark.parametrize("stack", STACKS)
def test_marquez_yml_keeps_lineage_for_the_stacks_retention_and_migrates(stack: str) -> None:
    document = _marquez_yml(stack)
    assert document["dbRetention"]["retentionDays"] == RETENTION_DAYS[stack]
    assert document["migrateOnStartup"] is True
    assert document["flyway"]["cleanDisabled"] is True


# --- secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_the_password_reaches_the_api_as_a_secret_file_only(stack: str) -> None:
    container = _container(stack, "api")
    assert {e["name"] for e in container["env"]} == {"JAVA_OPTS"}
    assert all("valueFrom" not in e for e in container["env"])
    secret = _objects(stack, "Secret")["marquez-api-secrets"]
    assert secret["stringData"] == {
        "var-run-secrets-marquez-postgres-password": "[secret]",
        "var-run-secrets-marquez-postgres-ca.crt": "[secret]",  # the database's trust anchor
    }
    config = _objects(stack, "ConfigMap")["marquez-api-config"]
    assert "[secret]" not in str(config["data"])
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert PASSWORD_FILE.rsplit("/", 1)[0] in mounts
    # The command reads that file into the variable marquez.yml names.
    assert f'POSTGRES_PASSWORD="$(cat {PASSWORD_FILE})"' in container["command"][2]


def test_docker_api_gets_the_password_as_an_uploaded_secret_file_not_env() -> None:
    render = cached_render("dev")
    api = render.named("dp-dev-marquez-api")["inputs"]
    assert not any("PASSWORD" in entry for entry in api["envs"])
    files = docker_files(render, "dp-dev-marquez-api")
    assert files[PASSWORD_FILE] == "[secret]"
    assert "[secret]" not in files[CONFIG_FILE]


# --- network -------------------------------------------------------------------------------


def _peers(policy: dict[str, Any], direction: str) -> list[tuple[dict[str, str], int]]:
    rules = policy["spec"][direction]
    key = "to" if direction == "egress" else "from"
    return [
        (peer["podSelector"]["matchLabels"], port["port"])
        for rule in rules
        for peer in rule[key]
        for port in rule["ports"]
    ]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_api_may_open_postgres_only_and_web_the_api_only(stack: str) -> None:
    policies = _objects(stack, "NetworkPolicy")
    postgres = {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/component": "server"}
    api = {"app.kubernetes.io/name": "marquez", "app.kubernetes.io/component": "api"}
    web = {"app.kubernetes.io/name": "marquez", "app.kubernetes.io/component": "web"}
    assert _peers(policies["marquez-api-egress"], "egress") == [(postgres, 5432)]
    assert _peers(policies["marquez-web-egress"], "egress") == [(api, 5000)]
    assert _peers(policies["marquez-web-to-marquez-api"], "ingress") == [(web, 5000)]
    assert _peers(policies["marquez-api-to-postgres-server"], "ingress") == [(api, 5432)]
    # The UI is the operator's: admitted from the admin CIDRs; the API is not.
    admin = policies["marquez-web-admin-ingress"]["spec"]["ingress"]
    assert [p["port"] for rule in admin for p in rule["ports"]] == [3000]
    assert "marquez-api-admin-ingress" not in policies


# --- the LineageProducer contract ----------------------------------------------------------


class ProbeSettings(BaseModel):
    """A throwaway lineage consumer's settings."""

    image: str = "docker.io/library/busybox:1.37.0"


def _probe_requirements(settings: BaseModel) -> Requirements:
    return Requirements(consumer="lineage-probe", lineage=True)


GRANTED: dict[str, Any] = {}
"""The LineageAccess the probe was granted, by stack environment."""


def _build_probe(ctx: ServiceContext, settings: BaseModel) -> pulumi.ComponentResource:
    """A consumer that gets its lineage endpoint only from the contract and opens its peer."""
    assert isinstance(settings, ProbeSettings)
    component = pulumi.ComponentResource("dataplatform:test:Probe", ctx.resource_name("probe"))
    access = ctx.lineage().lineage_access("lineage-probe")
    GRANTED[ctx.stack.environment] = access
    with pytest.raises(KeyError, match="did not require lineage"):
        ctx.lineage().lineage_access("someone-else")
    check = Probe(port=8080, exec_command=("true",))
    ctx.runtime.deploy(
        Workload(
            identity=WorkloadIdentity(service="probe", component="app", version="1.0"),
            kind=WorkloadKind.STATELESS,
            image=settings.image,
            ports=(Port(name="http", container_port=8080),),
            env={"OPENLINEAGE_URL": access.endpoint.url, "OPENLINEAGE_NAMESPACE": access.namespace},
            resources=Resources(
                cpu_request="50m", cpu_limit="1", memory_request="64Mi", memory_limit="128Mi"
            ),
            security=SecurityProfile(run_as_user=1000, run_as_group=1000),
            readiness=check,
            liveness=check,
            connections=(access.peer.connection(),),
        ),
        parent=component,
        after=access.ready,
    )
    component.register_outputs({})
    return component


PROBE = Service(name="probe", section="probe", build=_build_probe, requirements=_probe_requirements)


@functools.cache
def _with_probe(stack: str) -> Render:
    config = load_stack_config(stack)
    sections = {**enabled_settings(config), "probe": ProbeSettings()}

    def program() -> None:
        DataPlatform("p", config=config, services=(*SERVICES, PROBE), sections=sections)

    return render_program(program, stack=stack)


def test_marquez_is_the_stacks_lineage_producer() -> None:
    marquez = next(s for s in SERVICES if s.name == "marquez")
    assert marquez.section == "marquez" and marquez.produces == (LineageProducer,)
    assert [s.name for s in SERVICES].index("marquez") < [s.name for s in SERVICES].index("trino")


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_a_lineage_consumer_gets_the_api_endpoint_and_stack_namespace(stack: str) -> None:
    render = _with_probe(stack)
    access = GRANTED[stack]
    assert access.endpoint.url == f"http://marquez-api.dp-{stack}.svc.cluster.local:5000"
    assert access.namespace == f"dataplatform-{stack}"
    assert (access.peer.service, access.peer.component, access.peer.port) == (
        "marquez",
        "api",
        5000,
    )
    assert access.ready == ()
    policies = {r["name"]: r["inputs"]["spec"] for r in render.of_type(NETWORK_POLICY)}
    ingress = policies[f"dp-{stack}-probe-app-to-marquez-api"]
    assert ingress["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/name": "marquez",
    }
    assert ingress["ingress"][0]["ports"] == [{"port": 5000, "protocol": "TCP"}]


def test_a_dev_lineage_consumer_posts_to_the_docker_alias() -> None:
    _with_probe("dev")
    access = GRANTED["dev"]
    assert access.endpoint.url == "http://marquez-api:5000"
    assert access.namespace == "dataplatform-dev"
