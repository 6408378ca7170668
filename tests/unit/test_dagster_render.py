"""What each stack creates for Dagster, read from the offline render of the real stack files.

Docker (dev): webserver, one daemon, the code location and the socket proxy, which is the
only container holding the engine's socket. Kubernetes (test, prod): Deployments with one
Recreate-strategy daemon, the run launcher's Role exactly as `run_launcher_role_rules`
in the stack's namespace, a terminate-only Role for the webserver, NetworkPolicies for
run pods, and every credential (database password, S3 key, Kafka login, Slack webhook)
as a secret file that the env only points at.
"""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.dagster.files import run_launcher_role_rules, run_terminator_role_rules
from ops.render import Render, kubernetes_objects
from tests.conftest import KUBERNETES_STACKS, cached_render, docker_files

SECRET_DIR = "/var/run/secrets/dagster"
USER_CODE_ENV = {
    "OPENLINEAGE_URL",
    "OPENLINEAGE_NAMESPACE",
    "AWS_ENDPOINT_URL",
    "AWS_SHARED_CREDENTIALS_FILE",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_CLIENT_PROPERTIES",
    "S3_BUCKET_BRONZE",
}


def _objects(render: Render, kind: str) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"]: o
        for o in kubernetes_objects(render)
        if o["kind"] == kind and o["metadata"]["labels"].get("app.kubernetes.io/name") == "dagster"
    }


def _containers(render: Render) -> dict[str, dict[str, Any]]:
    return {c["name"]: c["inputs"] for c in render.of_type("docker:index/container:Container")}


def _env(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<ref>") for e in pod["containers"][0].get("env", [])}


def _instance(render: Render, stack: str) -> dict[str, Any]:
    data = _objects(render, "ConfigMap")["dagster-daemon-config"]["data"]
    return yaml.safe_load(data["opt-dagster-dagster_home-dagster.yaml"])


# --- Docker (dev) ---------------------------------------------------------------------


def test_dev_runs_webserver_one_daemon_the_location_and_the_proxy() -> None:
    servers = {
        name
        for name, c in _containers(cached_render("dev")).items()
        if name.startswith("dp-dev-dagster-") and c.get("mustRun") is not False
    }
    assert servers == {
        "dp-dev-dagster-webserver",
        "dp-dev-dagster-daemon",
        "dp-dev-dagster-code-pipelines",
        "dp-dev-dagster-socket-proxy",
    }


def test_the_dev_ui_is_published_on_loopback_only() -> None:
    published = {
        name: c.get("ports")
        for name, c in _containers(cached_render("dev")).items()
        if name.startswith("dp-dev-dagster-") and c.get("ports")
    }
    assert published == {
        "dp-dev-dagster-webserver": [
            {"external": 13000, "internal": 3000, "ip": "127.0.0.1", "protocol": "tcp"}
        ]
    }


def test_only_the_socket_proxy_holds_the_engine_socket() -> None:
    holders = {
        name
        for name, c in _containers(cached_render("dev")).items()
        if any("docker.sock" in str(m.get("source")) for m in c.get("mounts", []))
    }
    assert holders == {"dp-dev-dagster-socket-proxy"}
    proxy = _containers(cached_render("dev"))["dp-dev-dagster-socket-proxy"]
    [mount] = proxy["mounts"]
    assert mount == {
        "readOnly": True,
        "source": "/var/run/docker.sock",
        "target": "/var/run/docker.sock",
        "type": "bind",
    }
    assert proxy["user"] == "65534:999"  # nobody, in the socket's group: never root
    assert "-allowfrom=dagster-daemon" in proxy["command"]
    assert proxy["capabilities"] == {"drops": ["ALL"]} and proxy["readOnly"] is True


def test_the_daemon_reaches_the_engine_through_the_proxy_only() -> None:
    daemon = _containers(cached_render("dev"))["dp-dev-dagster-daemon"]
    assert "DOCKER_HOST=tcp://dagster-socket-proxy:2375" in daemon["envs"]
    assert not any(m.get("type") == "bind" for m in daemon["mounts"])
    for name, container in _containers(cached_render("dev")).items():
        # The daemon's own init step shares its env; the proxy admits only the daemon's alias.
        if name.startswith("dp-dev-dagster-") and not name.startswith("dp-dev-dagster-daemon"):
            assert not any("DOCKER_HOST" in str(e) for e in container.get("envs") or []), name


def test_dev_runs_are_docker_containers_with_the_staged_secrets() -> None:
    render = cached_render("dev")
    instance = yaml.safe_load(
        docker_files(render, "dp-dev-dagster-daemon")["/opt/dagster/dagster_home/dagster.yaml"]
    )
    launcher = instance["run_launcher"]
    assert launcher["class"] == "DockerRunLauncher"
    assert launcher["config"]["network"] == "dp-dev-net"
    volumes = launcher["config"]["container_kwargs"]["volumes"]
    assert volumes == {"dp-dev-dagster-daemon-run-secrets": {"bind": "/run/dagster", "mode": "ro"}}
    assert "dp-dev-dagster-daemon-run-secrets" in {
        v["name"] for v in render.of_type("docker:index/volume:Volume")
    }
    env = {e.split("=", 1)[0] for e in launcher["config"]["env_vars"]}
    assert env >= USER_CODE_ENV
    # The daemon holds the runs' files only to stage them; its own are the instance's.
    daemon_files = set(docker_files(render, "dp-dev-dagster-daemon"))
    assert {f for f in daemon_files if f.startswith(f"{SECRET_DIR}/")} == {f"{SECRET_DIR}/pgpass"}
    assert {f.rsplit("/", 1)[1] for f in daemon_files if "dagster-runs/" in f} == {
        "pgpass",
        "aws-credentials",
        "kafka-client.properties",
    }
    stage = _containers(render)["dp-dev-dagster-daemon-init-stage-run-secrets"]
    assert stage["command"][-1].startswith("umask 077 && cp /var/run/secrets/dagster-runs/*")
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"


# --- Kubernetes (test, prod) ----------------------------------------------------------


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_exactly_one_daemon_recreated_never_surged(stack: str) -> None:
    deployments = _objects(cached_render(stack), "Deployment")
    daemons = [d for n, d in deployments.items() if "daemon" in n]
    assert len(daemons) == 1
    [daemon] = daemons
    assert daemon["spec"]["replicas"] == 1
    assert daemon["spec"]["strategy"] == {"type": "Recreate"}
    assert "dagster-daemon" not in _objects(cached_render(stack), "Service")


@pytest.mark.parametrize(
    ("stack", "locations"),
    [("test", {"pipelines": 1, "marts": 1}), ("prod", {"pipelines": 2, "marts": 2})],
)
def test_webserver_and_code_locations_from_stack_config(
    stack: str, locations: dict[str, int]
) -> None:
    deployments = _objects(cached_render(stack), "Deployment")
    found = {
        name.removeprefix("dagster-code-"): d["spec"]["replicas"]
        for name, d in deployments.items()
        if name.startswith("dagster-code-")
    }
    assert found == locations
    assert deployments["dagster-webserver"]["spec"]["replicas"] == (2 if stack == "prod" else 1)
    workspace = yaml.safe_load(
        _objects(cached_render(stack), "ConfigMap")["dagster-webserver-config"]["data"][
            "opt-dagster-workspace-workspace.yaml"
        ]
    )
    assert [e["grpc_server"]["port"] for e in workspace["load_from"]] == [4000] * len(locations)


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_the_run_launcher_role_is_exact_and_namespaced(stack: str) -> None:
    render = cached_render(stack)
    roles = _objects(render, "Role")
    assert set(roles) == {"dagster-daemon", "dagster-webserver"}
    daemon = roles["dagster-daemon"]
    assert daemon["metadata"]["namespace"] == f"dp-{stack}"
    assert daemon["rules"] == run_launcher_role_rules()
    assert roles["dagster-webserver"]["rules"] == run_terminator_role_rules()
    binding = _objects(render, "RoleBinding")["dagster-daemon"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "dagster-daemon",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "dagster-daemon", "namespace": f"dp-{stack}"}
    ]
    assert not _objects(render, "ClusterRole") and not _objects(render, "ClusterRoleBinding")


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_only_the_daemon_and_webserver_get_an_api_token(stack: str) -> None:
    tokens = {
        name: d["spec"]["template"]["spec"]["automountServiceAccountToken"]
        for name, d in _objects(cached_render(stack), "Deployment").items()
    }
    assert {name for name, token in tokens.items() if token} == {
        "dagster-daemon",
        "dagster-webserver",
    }


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_runs_are_jobs_in_the_namespace_with_their_own_network_policy(stack: str) -> None:
    render = cached_render(stack)
    launcher = _instance(render, stack)["run_launcher"]
    assert launcher["class"] == "K8sRunLauncher"
    config = launcher["config"]
    assert config["job_namespace"] == f"dp-{stack}"
    assert config["labels"]["app.kubernetes.io/component"] == "run"
    pod = config["run_k8s_config"]["pod_spec_config"]
    assert pod["automount_service_account_token"] is False
    [secrets] = [v for v in pod["volumes"] if v["name"] == "dagster-secrets"]
    mounted = _objects(render, "Secret")[secrets["secret"]["secret_name"]]
    assert {item["key"] for item in secrets["secret"]["items"]} <= set(mounted["stringData"])
    policy = _objects(render, "NetworkPolicy")["dagster-run-egress"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/component": "run",
        "app.kubernetes.io/name": "dagster",
    }
    peers = {
        rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["spec"]["egress"]
    }
    assert peers == {"postgres", "minio", "kafka", "marquez"}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_run_pods_verify_the_database_with_its_trust_anchor(stack: str) -> None:
    """Runs read the same `dagster.yaml` (sslmode verify-full, sslrootcert in the runtime
    dir): their init container must put the server's certificate there, from the Secret
    they mount (which must hold it)."""
    render = cached_render(stack)
    instance = _instance(render, stack)
    params = instance["storage"]["postgres"]["postgres_db"]["params"]
    assert params["sslmode"] == "verify-full"
    assert params["sslrootcert"] == "/run/dagster/postgres-ca.crt"
    pod = instance["run_launcher"]["config"]["run_k8s_config"]["pod_spec_config"]
    [init] = pod["init_containers"]
    copy = f"cat {SECRET_DIR}/postgres-ca.crt > {params['sslrootcert']}"
    assert copy in init["command"][2]
    [secrets] = [v for v in pod["volumes"] if v["name"] == "dagster-secrets"]
    items = {item["key"]: item["path"] for item in secrets["secret"]["items"]}
    assert items["var-run-secrets-dagster-postgres-ca.crt"] == "postgres-ca.crt"
    mounted = _objects(render, "Secret")[secrets["secret"]["secret_name"]]
    assert "var-run-secrets-dagster-postgres-ca.crt" in mounted["stringData"]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_user_code_gets_its_platform_as_env_and_secret_files(stack: str) -> None:
    render = cached_render(stack)
    pod = _objects(render, "Deployment")["dagster-code-pipelines"]["spec"]["template"]["spec"]
    env = _env(pod)
    assert set(env) >= USER_CODE_ENV
    assert env["OPENLINEAGE_NAMESPACE"] == f"dataplatform-{stack}"
    assert env["AWS_CA_BUNDLE"] == f"{SECRET_DIR}/s3-ca.pem"
    assert env["SLACK_WEBHOOK_URL_FILE"] == f"{SECRET_DIR}/slack-webhook"
    assert env["DAGSTER_CURRENT_IMAGE"] == pod["containers"][0]["image"]
    secret = _objects(render, "Secret")["dagster-code-pipelines-secrets"]["stringData"]
    assert set(secret) == {
        f"var-run-secrets-dagster-{name}"
        for name in (
            "pgpass",
            "postgres-ca.crt",
            "aws-credentials",
            "s3-ca.pem",
            "kafka-client.properties",
            "kafka-ca.pem",
            "slack-webhook",
        )
    }
    assert set(secret.values()) == {"[secret]"}


def test_secrets_are_files_only(any_render: Render) -> None:
    """No Dagster container takes a secret through env, and no ConfigMap or env value
    holds a secret (the offline placeholder of the webhook included)."""
    for obj in kubernetes_objects(any_render):
        if obj["metadata"].get("labels", {}).get("app.kubernetes.io/name") != "dagster":
            continue
        if obj["kind"] == "Deployment":
            for container in obj["spec"]["template"]["spec"]["containers"]:
                assert all("valueFrom" not in e for e in container.get("env", [])), container
                assert "[secret]" not in str(container.get("env"))
        if obj["kind"] == "ConfigMap":
            assert "[secret]" not in str(obj["data"])
    for name, container in _containers(any_render).items():
        if name.startswith(f"dp-{any_render.stack}-dagster"):
            assert "[secret]" not in str(container.get("envs"))


def test_the_rendered_staging_step_leaves_private_copies(tmp_path: Path) -> None:
    """The dev daemon's init step, run by a real shell on stand-in directories: every file
    ends up 0600 (libpq refuses a group- or world-readable password file)."""
    stage = _containers(cached_render("dev"))["dp-dev-dagster-daemon-init-stage-run-secrets"]
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    for name in ("pgpass", "aws-credentials"):
        (source / name).write_text(f"{name}\n")
        (source / name).chmod(0o444)  # as the files volume delivers them
    script = (
        stage["command"][-1]
        .replace("/var/run/secrets/dagster-runs", str(source))
        .replace("/run/dagster-runs", str(target))
    )
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()} == {
        "pgpass": 0o600,
        "aws-credentials": 0o600,
    }
    assert (target / "pgpass").read_text() == "pgpass\n"
