"""Dagster's rendered files and commands: what the instance is told, and what it never sees."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.dagster.files import (
    DockerLauncher,
    KubernetesLauncher,
    PostgresConnection,
    dagster_yaml,
    grpc_command,
    pgpass_line,
    run_launcher_role_rules,
    run_terminator_role_rules,
    socket_proxy_args,
    start_script,
    workspace_yaml,
)
from components.dagster.settings import DagsterSettings

SETTINGS = DagsterSettings.model_validate(
    {
        "codeLocations": [
            {"name": "ingest", "image": "registry.example/ingest:2.0.1", "module": "ingest.defs"},
            {"name": "marts", "image": "registry.example/marts:0.9.0", "package": "marts"},
        ],
        "runQueue": {
            "maxConcurrentRuns": 6,
            "tagConcurrencyLimits": [
                {"key": "source", "value": "crm", "limit": 1},
                {"key": "team", "perUniqueValue": True, "limit": 2},
                {"key": "dagster/backfill", "limit": 3},
            ],
        },
    }
)
STORAGE = PostgresConnection(host="postgres.data-platform.svc", sslrootcert="/etc/ssl/ca.crt")
DOCKER = DockerLauncher(network="dp-dev", volumes={"dp-dev-dagster-run-secrets": "/run/dagster"})
KUBERNETES = KubernetesLauncher(
    job_namespace="data-platform",
    service_account_name="dagster-run",
    instance_config_map="dagster-instance",
    pgpass_secret="dagster-pgpass",
    init_image=SETTINGS.image,
)


def document(launcher: DockerLauncher | KubernetesLauncher) -> dict[str, Any]:
    """The rendered `dagster.yaml`, parsed back."""
    return yaml.safe_load(dagster_yaml(SETTINGS, storage=STORAGE, launcher=launcher))


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.mark.parametrize("launcher", [DOCKER, KUBERNETES], ids=["docker", "kubernetes"])
def test_dagster_yaml_is_deterministic_and_holds_no_password(launcher: Any) -> None:
    first = dagster_yaml(SETTINGS, storage=STORAGE, launcher=launcher)
    assert first == dagster_yaml(SETTINGS, storage=STORAGE, launcher=launcher)
    assert not {k for k in _keys(yaml.safe_load(first)) if "password" in k.lower()}


def test_storage_is_postgres_with_the_password_from_a_libpq_file() -> None:
    db = document(DOCKER)["storage"]["postgres"]["postgres_db"]
    assert db == {
        "username": "dagster",
        "hostname": "postgres.data-platform.svc",
        "db_name": "dagster",
        "port": 5432,
        "params": {
            "passfile": "/run/dagster/pgpass",
            "sslmode": "verify-full",
            "sslrootcert": "/etc/ssl/ca.crt",
        },
    }


def test_runs_are_queued_with_the_stack_limits() -> None:
    rendered = document(DOCKER)
    assert rendered["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert rendered["concurrency"]["runs"] == {
        "max_concurrent_runs": 6,
        "tag_concurrency_limits": [
            {"key": "source", "limit": 1, "value": "crm"},
            {"key": "team", "limit": 2, "value": {"applyLimitPerUniqueValue": True}},
            {"key": "dagster/backfill", "limit": 3},
        ],
    }


def test_monitoring_retention_and_telemetry() -> None:
    rendered = document(KUBERNETES)
    assert rendered["run_monitoring"]["enabled"] is True
    assert rendered["retention"]["sensor"]["purge_after_days"] == {
        "skipped": 7,
        "success": 30,
        "failure": 90,
    }
    assert rendered["telemetry"] == {"enabled": False}


def test_docker_runs_are_confined() -> None:
    launcher = document(DOCKER)["run_launcher"]
    assert launcher["class"] == "DockerRunLauncher"
    kwargs = launcher["config"]["container_kwargs"]
    assert kwargs["user"] == "10001:10001"
    assert kwargs["cap_drop"] == ["ALL"]
    assert kwargs["read_only"] is True
    assert "privileged" not in kwargs
    assert kwargs["mem_limit"] == 2 * 2**30
    assert kwargs["volumes"] == {
        "dp-dev-dagster-run-secrets": {"bind": "/run/dagster", "mode": "ro"}
    }


def test_kubernetes_launcher_uses_in_cluster_config_unless_given_a_kubeconfig() -> None:
    config = document(KUBERNETES)["run_launcher"]["config"]
    assert config["load_incluster_config"] is True
    assert "kubeconfig_file" not in config
    assert config["only_allow_user_defined_k8s_config_fields"] == {
        "container_config": {"resources": True}
    }
    outside = KubernetesLauncher(**{**KUBERNETES.__dict__, "kubeconfig_file": "/kube/config"})
    config = document(outside)["run_launcher"]["config"]
    assert (config["load_incluster_config"], config["kubeconfig_file"]) == (False, "/kube/config")


def test_workspace_lists_every_location_as_a_grpc_server() -> None:
    hosts = {"ingest": "dagster-ingest", "marts": "dagster-marts"}
    assert yaml.safe_load(workspace_yaml(SETTINGS, hosts)) == {
        "load_from": [
            {"grpc_server": {"host": "dagster-ingest", "port": 4000, "location_name": "ingest"}},
            {"grpc_server": {"host": "dagster-marts", "port": 4000, "location_name": "marts"}},
        ]
    }
    with pytest.raises(KeyError, match="marts"):
        workspace_yaml(SETTINGS, {"ingest": "dagster-ingest"})


def test_grpc_commands_name_the_module_or_package() -> None:
    ingest, marts = SETTINGS.code_locations
    assert grpc_command(ingest)[-2:] == ["--module-name", "ingest.defs"]
    assert grpc_command(marts)[-2:] == ["--package-name", "marts"]


def test_pgpass_line_escapes_separators() -> None:
    connection = PostgresConnection(host="db", port=5433)
    assert pgpass_line(connection, "a:b\\c") == "db:5433:dagster:dagster:a\\:b\\\\c\n"


def test_start_script_makes_a_private_copy_of_the_secret_then_execs(tmp_path: Path) -> None:
    secret, copy = tmp_path / "pgpass-secret", tmp_path / "pgpass"
    secret.write_text("db:5432:dagster:dagster:s3cret\n")
    secret.chmod(0o440)  # as a Secret volume with fsGroup delivers it: libpq would refuse it
    command = start_script(["cat", str(copy)], source=str(secret), target=str(copy))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "db:5432:dagster:dagster:s3cret\n"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600


def _proxy_allows(method: str, path: str) -> bool:
    """The proxy's check: `-allow<METHOD>=re` patterns anchored with ^ and $ on the path."""
    rules = [
        arg.split("=", 1)
        for arg in socket_proxy_args(allow_from="dagster-daemon")
        if arg.startswith("-allow") and arg[len("-allow") :].split("=")[0].isupper()
    ]
    return any(flag == f"-allow{method}" and re.fullmatch(pattern, path) for flag, pattern in rules)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/version"),
        ("POST", "/v1.47/containers/create"),
        ("GET", "/v1.47/containers/3f2a9c/json"),
        ("POST", "/v1.47/containers/3f2a9c/start"),
        ("POST", "/v1.47/containers/3f2a9c/stop"),
    ],
)
def test_socket_proxy_allows_what_launching_runs_needs(method: str, path: str) -> None:
    assert _proxy_allows(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1.47/images/create"),
        ("POST", "/v1.47/containers/3f2a9c/exec"),
        ("POST", "/v1.47/exec/9a/start"),
        ("PUT", "/v1.47/containers/3f2a9c/archive"),
        ("DELETE", "/v1.47/containers/3f2a9c"),
        ("POST", "/v1.47/containers/3f2a9c/kill"),
        ("GET", "/v1.47/containers/json"),
        ("POST", "/v1.47/volumes/create"),
        ("POST", "/v1.47/networks/dp-dev/connect"),
        ("GET", "/v1.47/info"),
    ],
)
def test_socket_proxy_refuses_everything_else(method: str, path: str) -> None:
    assert not _proxy_allows(method, path)


def test_socket_proxy_accepts_only_the_daemon() -> None:
    args = socket_proxy_args(allow_from="dp-dev-dagster-daemon")
    assert "-allowfrom=dp-dev-dagster-daemon" in args
    assert any(a.startswith("-allowbindmountfrom=") for a in args)


def test_run_launcher_role_passes_kubernetes_validate_and_grants_no_secrets(
    tmp_path: Path,
) -> None:
    rules = run_launcher_role_rules()
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "dagster-run-launcher", "namespace": "data-platform"},
        "rules": rules,
    }
    manifest = tmp_path / "role.yaml"
    manifest.write_text(yaml.safe_dump(role))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    granted = {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}
    assert not {(r, v) for r, v in granted if "*" in (r, v)}
    assert not {r for r, _ in granted} & {"secrets", "configmaps", "pods/exec", "roles"}
    assert ("pods", "create") not in granted


def test_the_webserver_may_only_terminate_runs() -> None:
    granted = {
        (group, resource, verb)
        for rule in run_terminator_role_rules()
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("batch", "jobs", "delete"),
        ("", "pods", "list"),
        ("", "pods", "delete"),
    }
    launcher = {(g, r, v) for g, r, v in granted if v == "create"}
    assert not launcher  # the daemon launches; the webserver only queues


def test_run_pods_mount_the_user_code_secret_and_get_its_env() -> None:
    launcher = KubernetesLauncher(
        **{
            **KUBERNETES.__dict__,
            "secret_items": {"var-run-secrets-dagster-pgpass": "pgpass"},
            "env_vars": ("OPENLINEAGE_URL=http://marquez-api:5000",),
        }
    )
    config = document(launcher)["run_launcher"]["config"]
    assert config["env_vars"] == ["OPENLINEAGE_URL=http://marquez-api:5000"]
    [volume] = [v for v in config["run_k8s_config"]["pod_spec_config"]["volumes"] if "secret" in v]
    assert volume["secret"] == {
        "secret_name": "dagster-pgpass",
        "default_mode": 0o440,
        "items": [{"key": "var-run-secrets-dagster-pgpass", "path": "pgpass"}],
    }
