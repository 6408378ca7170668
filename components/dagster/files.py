"""The files and commands of a Dagster instance, rendered from `DagsterSettings` (pure functions).

- `dagster.yaml` (`DAGSTER_HOME`): PostgreSQL run, event-log and schedule storage in the
  `dagster` database (password from a libpq password file, never in the YAML),
  `QueuedRunCoordinator` with the stack's run limits, the run launcher of the target
  (`DockerRunLauncher` or `K8sRunLauncher`), run monitoring, tick retention, telemetry off.
- `workspace.yaml`: one `grpc_server` entry per user-code location, shared by the webserver
  and the daemon.
- The commands of the webserver, the daemon and each gRPC server, the start wrapper that
  puts the password file in place, the socket proxy's allowlist, and the Role rules the
  Kubernetes run launcher needs.

Upstream references: https://docs.dagster.io/deployment/oss/dagster-yaml,
https://docs.dagster.io/deployment/code-locations/workspace-yaml, and the Helm chart
`helm/dagster/templates/role.yaml`. Checked against dagster 1.13.27 / dagster-k8s 0.29.27.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from components.common import ResourceSettings
from components.dagster.settings import GRPC_PORT, CodeLocation, DagsterSettings, TickRetention
from components.runtime.quantities import cpu_cores, memory_bytes

DAGSTER_HOME = "/opt/dagster/dagster_home"
WORKSPACE_FILE = "/opt/dagster/workspace/workspace.yaml"
SECRET_DIR = "/var/run/secrets/dagster"
PGPASS_SECRET = f"{SECRET_DIR}/pgpass"
RUNTIME_DIR = "/run/dagster"
"""A per-container tmpfs/emptyDir: the 0600 copy of the password file lives here."""
PGPASS_FILE = f"{RUNTIME_DIR}/pgpass"
POSTGRES_CA_NAME = "postgres-ca.crt"
POSTGRES_CA_SECRET = f"{SECRET_DIR}/{POSTGRES_CA_NAME}"
POSTGRES_CA_FILE = f"{RUNTIME_DIR}/{POSTGRES_CA_NAME}"
"""The PostgreSQL server's trust anchor (`sslrootcert`): copied beside the password file,
so every process, run containers included (they see only `RUNTIME_DIR`), finds it at one
path that `dagster.yaml` names."""
SCRATCH_DIR = "/tmp/dagster"
WEBSERVER_PORT = 3000
SOCKET_PROXY_PORT = 2375

INIT_RESOURCES = ResourceSettings(
    cpu_request="10m", cpu_limit="100m", memory_request="16Mi", memory_limit="32Mi"
)
SslMode = Literal["disable", "require", "verify-ca", "verify-full"]


@dataclass(frozen=True, kw_only=True)
class PostgresConnection:
    """Where the instance's storages live and how they log in (password via `passfile`).

    `passfile` is a libpq password file: libpq ignores it unless it is a regular file with
    mode 0600 or less, so it is a private copy of the secret file (see `start_script`).
    """

    host: str
    port: int = 5432
    database: str = "dagster"
    username: str = "dagster"
    passfile: str = PGPASS_FILE
    sslmode: SslMode = "verify-full"
    sslrootcert: str | None = None


@dataclass(frozen=True, kw_only=True)
class InstancePaths:
    """Where the instance writes local files: artifact storage for the default IO manager."""

    scratch_dir: str = SCRATCH_DIR


@dataclass(frozen=True, kw_only=True)
class DockerLauncher:
    """`DockerRunLauncher`: one container per run on `network`, from the location's image.

    `env_vars` are names passed through from the daemon (or `NAME=value` for non-secrets);
    `volumes` maps volume names to read-only mount paths in the run container. The run's
    command is Dagster's, so no start script runs there: one volume must hold the password
    file ready for libpq (0600, owned by `runs.runAsUser`) at `RUNTIME_DIR`.
    """

    network: str
    env_vars: tuple[str, ...] = ()
    volumes: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class KubernetesLauncher:
    """`K8sRunLauncher`: one Job per run in `job_namespace`.

    `postgres_ca`: the Secret also holds the PostgreSQL server's trust anchor (key
    `POSTGRES_CA_NAME`), which the run's init container copies to `POSTGRES_CA_FILE`.
    `service_account_name` is the RUN pods' account (no Role, no token); the Role of
    `run_launcher_role_rules` binds to the daemon's account (it launches, monitors and
    terminates runs), `run_terminator_role_rules` to the webserver's (the UI's Terminate).
    `kubeconfig_file=None` means in-cluster config. `pgpass_secret` names the Secret the
    run pods mount at `SECRET_DIR`: `secret_items` maps its keys to file names (one must
    be `pgpass`; empty: every key under its own name). `env_vars` are `NAME=value` entries
    every run gets (user code's plain env).
    """

    job_namespace: str
    service_account_name: str
    instance_config_map: str
    pgpass_secret: str
    init_image: str
    dagster_home: str = DAGSTER_HOME
    kubeconfig_file: str | None = None
    env_config_maps: tuple[str, ...] = ()
    env_vars: tuple[str, ...] = ()
    secret_items: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    postgres_ca: bool = False


RunLauncher = DockerLauncher | KubernetesLauncher


def pgpass_line(connection: PostgresConnection, password: str) -> str:
    """The one line of the libpq password file for `connection` (`:` and `\\` escaped)."""

    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace(":", "\\:")

    fields = (connection.host, str(connection.port), connection.database, connection.username)
    return ":".join([*map(escape, fields), escape(password)]) + "\n"


def postgres_storage(connection: PostgresConnection) -> dict[str, Any]:
    """The `storage.postgres` block: `postgres_db` without a password; libpq reads `passfile`.

    Dagster's `password` accepts only a literal or `env:`; a literal would also travel in
    every run's command line (the Docker launcher serialises the instance config into it).
    """
    params: dict[str, Any] = {"passfile": connection.passfile, "sslmode": connection.sslmode}
    if connection.sslrootcert is not None:
        params["sslrootcert"] = connection.sslrootcert
    return {
        "postgres_db": {
            "username": connection.username,
            "hostname": connection.host,
            "db_name": connection.database,
            "port": connection.port,
            "params": params,
        }
    }


def _retention(ticks: TickRetention) -> dict[str, Any]:
    return {
        "purge_after_days": {
            "skipped": ticks.skipped,
            "success": ticks.success,
            "failure": ticks.failure,
        }
    }


def _concurrency(settings: DagsterSettings) -> dict[str, Any]:
    limits: list[dict[str, Any]] = []
    for tag in settings.run_queue.tag_concurrency_limits:
        entry: dict[str, Any] = {"key": tag.key, "limit": tag.limit}
        if tag.value is not None:
            entry["value"] = tag.value
        elif tag.per_unique_value:
            entry["value"] = {"applyLimitPerUniqueValue": True}
        limits.append(entry)
    runs: dict[str, Any] = {"max_concurrent_runs": settings.run_queue.max_concurrent_runs}
    if limits:
        runs["tag_concurrency_limits"] = limits
    return {"runs": runs}


def instance_document(
    settings: DagsterSettings,
    *,
    storage: PostgresConnection,
    launcher: RunLauncher,
    paths: InstancePaths | None = None,
) -> dict[str, Any]:
    """`dagster.yaml` as a mapping (see `dagster_yaml`)."""
    paths = paths or InstancePaths()
    monitoring = settings.run_monitoring
    return {
        "storage": {"postgres": postgres_storage(storage)},
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        "concurrency": _concurrency(settings),
        "run_launcher": run_launcher_block(settings, launcher),
        "run_monitoring": {
            "enabled": monitoring.enabled,
            "start_timeout_seconds": monitoring.start_timeout_seconds,
            "cancel_timeout_seconds": monitoring.cancel_timeout_seconds,
            "max_resume_run_attempts": monitoring.max_resume_run_attempts,
            "poll_interval_seconds": monitoring.poll_interval_seconds,
        },
        "retention": {
            "schedule": _retention(settings.retention.schedule),
            "sensor": _retention(settings.retention.sensor),
        },
        "local_artifact_storage": {
            "module": "dagster._core.storage.root",
            "class": "LocalArtifactStorage",
            "config": {"base_dir": f"{paths.scratch_dir}/storage"},
        },
        # Step stdout/stderr stay in the container log until an S3 compute log manager
        # (MinIO) is wired; a local one would write where the webserver cannot read.
        "compute_logs": {
            "module": "dagster._core.storage.noop_compute_log_manager",
            "class": "NoOpComputeLogManager",
        },
        "telemetry": {"enabled": False},
    }


def dagster_yaml(
    settings: DagsterSettings,
    *,
    storage: PostgresConnection,
    launcher: RunLauncher,
    paths: InstancePaths | None = None,
) -> str:
    """The instance's `dagster.yaml` (deterministic; holds no secret)."""
    document = instance_document(settings, storage=storage, launcher=launcher, paths=paths)
    return yaml.safe_dump(document, sort_keys=False)


def run_launcher_block(settings: DagsterSettings, launcher: RunLauncher) -> dict[str, Any]:
    """The `run_launcher` block of the target: Docker or Kubernetes."""
    if isinstance(launcher, DockerLauncher):
        return {
            "module": "dagster_docker",
            "class": "DockerRunLauncher",
            "config": {
                "network": launcher.network,
                "env_vars": list(launcher.env_vars),
                "container_kwargs": docker_container_kwargs(settings, launcher),
            },
        }
    return {
        "module": "dagster_k8s",
        "class": "K8sRunLauncher",
        "config": _k8s_launcher_config(settings, launcher),
    }


def docker_container_kwargs(settings: DagsterSettings, launcher: DockerLauncher) -> dict[str, Any]:
    """docker-py `containers.create` arguments of each run: non-root, no capabilities, no
    privilege escalation, read-only root with a tmpfs scratch, CPU and memory limits."""
    resources = settings.runs.resources
    uid = settings.runs.run_as_user
    return {
        "user": f"{uid}:{uid}",
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "read_only": True,
        "tmpfs": {SCRATCH_DIR: f"uid={uid},mode=0700"},
        "mem_limit": memory_bytes(resources.memory_limit),
        "nano_cpus": int(cpu_cores(resources.cpu_limit) * 1_000_000_000),
        "volumes": {name: {"bind": path, "mode": "ro"} for name, path in launcher.volumes.items()},
        "labels": dict(launcher.labels),
    }


def _k8s_resources(resources: ResourceSettings) -> dict[str, Any]:
    return {
        "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
        "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
    }


def _restricted_container() -> dict[str, Any]:
    return {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def _k8s_launcher_config(settings: DagsterSettings, launcher: KubernetesLauncher) -> dict[str, Any]:
    config: dict[str, Any] = {
        "job_namespace": launcher.job_namespace,
        "service_account_name": launcher.service_account_name,
        "instance_config_map": launcher.instance_config_map,
        "dagster_home": launcher.dagster_home,
        "load_incluster_config": launcher.kubeconfig_file is None,
        "image_pull_policy": "IfNotPresent",
        "env_config_maps": list(launcher.env_config_maps),
        "env_vars": list(launcher.env_vars),
        "labels": dict(launcher.labels),
        "fail_pod_on_run_failure": True,
        "run_k8s_config": k8s_run_config(settings, launcher),
        # Runs may size themselves through tags; nothing else of the pod is theirs to set.
        "only_allow_user_defined_k8s_config_fields": {"container_config": {"resources": True}},
        "only_allow_user_defined_env_vars": [],
    }
    if launcher.kubeconfig_file is not None:
        config["kubeconfig_file"] = launcher.kubeconfig_file
    return config


def k8s_run_config(settings: DagsterSettings, launcher: KubernetesLauncher) -> dict[str, Any]:
    """`run_k8s_config` of each run's Job: restricted security context, limits, no API token,
    an init container that puts a 0600 copy of the password file in a memory `emptyDir`."""
    uid = settings.runs.run_as_user
    mounts = [
        {"name": "dagster-runtime", "mount_path": RUNTIME_DIR},
        {"name": "dagster-scratch", "mount_path": SCRATCH_DIR},
    ]
    copy = {
        "name": "pgpass",
        "image": launcher.init_image,
        "command": [
            "sh",
            "-c",
            pgpass_copy_command(ca_source=POSTGRES_CA_SECRET if launcher.postgres_ca else None),
        ],
        "security_context": _restricted_container(),
        "resources": _k8s_resources(INIT_RESOURCES),
        "volume_mounts": [
            {"name": "dagster-runtime", "mount_path": RUNTIME_DIR},
            {"name": "dagster-secrets", "mount_path": SECRET_DIR, "read_only": True},
        ],
    }
    return {
        "container_config": {
            "security_context": _restricted_container(),
            "resources": _k8s_resources(settings.runs.resources),
            "volume_mounts": mounts,
        },
        "pod_spec_config": {
            "automount_service_account_token": False,
            "security_context": {
                "run_as_non_root": True,
                "run_as_user": uid,
                "run_as_group": uid,
                "fs_group": uid,
                "seccomp_profile": {"type": "RuntimeDefault"},
            },
            "init_containers": [copy],
            "volumes": [
                {"name": "dagster-runtime", "empty_dir": {"medium": "Memory", "size_limit": "1Mi"}},
                {"name": "dagster-scratch", "empty_dir": {"size_limit": "1Gi"}},
                {"name": "dagster-secrets", "secret": _secret_volume(launcher)},
            ],
        },
        "job_spec_config": {
            "backoff_limit": 0,
            "ttl_seconds_after_finished": settings.runs.finished_job_ttl_seconds,
        },
    }


def _secret_volume(launcher: KubernetesLauncher) -> dict[str, Any]:
    volume: dict[str, Any] = {"secret_name": launcher.pgpass_secret, "default_mode": 0o440}
    if launcher.secret_items:
        volume["items"] = [
            {"key": key, "path": path} for key, path in sorted(launcher.secret_items.items())
        ]
    return volume


def workspace_document(
    settings: DagsterSettings, hosts: Mapping[str, str], *, port: int = GRPC_PORT
) -> dict[str, Any]:
    """`workspace.yaml` as a mapping; `hosts` maps each location name to its server's host,
    all of which serve on `port`.

    Raises KeyError naming the location when a host is missing.
    """
    entries = []
    for location in settings.code_locations:
        if location.name not in hosts:
            raise KeyError(f"no host for code location {location.name!r}")
        server = {"host": hosts[location.name], "port": port, "location_name": location.name}
        entries.append({"grpc_server": server})
    return {"load_from": entries}


def workspace_yaml(
    settings: DagsterSettings, hosts: Mapping[str, str], *, port: int = GRPC_PORT
) -> str:
    """The one `workspace.yaml` the webserver and the daemon both load."""
    return yaml.safe_dump(workspace_document(settings, hosts, port=port), sort_keys=False)


def grpc_command(location: CodeLocation, *, port: int = GRPC_PORT) -> list[str]:
    """`dagster api grpc` serving `location` on all interfaces."""
    target = (
        ["--module-name", location.module]
        if location.module
        else ["--package-name", str(location.package)]
    )
    return ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", str(port), *target]


def webserver_command(*, port: int = WEBSERVER_PORT, workspace: str = WORKSPACE_FILE) -> list[str]:
    """`dagster-webserver` on all interfaces with the shared workspace (health: `/server_info`)."""
    return ["dagster-webserver", "--host", "0.0.0.0", "--port", str(port), "-w", workspace]


def daemon_command(*, workspace: str = WORKSPACE_FILE) -> list[str]:
    """`dagster-daemon run` with the shared workspace."""
    return ["dagster-daemon", "run", "-w", workspace]


def pgpass_copy_command(
    *,
    source: str = PGPASS_SECRET,
    target: str = PGPASS_FILE,
    ca_source: str | None = None,
    ca_target: str = POSTGRES_CA_FILE,
) -> str:
    """Shell that copies the secret password file to a private 0600 file owned by the caller
    (and, given `ca_source`, the database's trust anchor to `ca_target` beside it).

    A Secret volume delivers files root-owned and group-readable; libpq refuses a password
    file with group or world access, so each process gets its own copy on a tmpfs.
    """
    command = f"umask 077 && cat {shlex.quote(source)} > {shlex.quote(target)}"
    if ca_source is not None:
        command += f" && cat {shlex.quote(ca_source)} > {shlex.quote(ca_target)}"
    return command


def start_script(command: Sequence[str], **paths: str) -> list[str]:
    """`sh -c` that copies the password file (`pgpass_copy_command`) and execs `command`."""
    return ["sh", "-c", f"{pgpass_copy_command(**paths)} && exec {shlex.join(command)}"]


def socket_proxy_args(*, allow_from: str, port: int = SOCKET_PROXY_PORT) -> list[str]:
    """Arguments of `wollomatic/socket-proxy` allowing only what `DockerRunLauncher` calls.

    docker-py (7.x) as dagster-docker 0.29.27 uses it: `GET /version` (API version
    negotiation), `POST /containers/create`, `GET /containers/{id}/json` (the create
    call's read-back and run monitoring), `POST /containers/{id}/start` (launch) and
    `POST /containers/{id}/stop` (terminate). Nothing else: no image pulls (images are
    pulled ahead by the component), no exec, no archive uploads, no deletes, and no host
    bind mounts (`-allowbindmountfrom` names a directory that does not exist). Only
    `allow_from` (the daemon's hostname) may connect.
    """
    version = r"(/v1\.[0-9]+)?"
    container = r"[a-zA-Z0-9_.-]+"
    return [
        "-listenip=0.0.0.0",
        f"-proxyport={port}",
        f"-allowfrom={allow_from}",
        f"-allowGET={version}/(version|containers/{container}/json)",
        f"-allowPOST={version}/containers/(create|{container}/(start|stop))",
        "-allowbindmountfrom=/nonexistent-no-bind-mounts",
        "-watchdoginterval=60",
        "-stoponwatchdog",
        "-shutdowngracetime=5",
    ]


def run_launcher_role_rules() -> list[dict[str, list[str]]]:
    """Namespaced Role rules for whoever launches and terminates runs (daemon, webserver).

    Derived from the Kubernetes calls in dagster_k8s 0.29.27 (`client.py`, `launcher.py`);
    the Helm chart's Role also grants watch, patch, update and deletecollection, which no
    code path calls. Each verb and why:
    - batch jobs create: `launch_run` creates the run's Job.
    - batch jobs delete: `terminate` deletes the Job.
    - batch jobs list: run-failure debug info lists the run's Job.
    - batch jobs/status get: run monitoring reads the Job status (`read_namespaced_job_status`).
    - pods list: `get_pod_names_in_job` (terminate, debug info) lists the Job's pods.
    - pods get: reads a pod by name while waiting on it / for debug info.
    - pods delete: `terminate` deletes the Job's pods as well.
    - pods/log get: run-failure debug info reads the pod's log.
    - events list: run-failure debug info lists the pod's and Job's events.
    No secrets, no configmaps, no pods/exec, no create on pods, nothing cluster-scoped.
    """
    return [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete", "list"]},
        {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "get", "list"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
    ]


def run_terminator_role_rules() -> list[dict[str, list[str]]]:
    """Namespaced Role rules of the webserver: terminating a started run, nothing else.

    Runs launched from the UI are queued (`QueuedRunCoordinator`) and launched by the
    daemon, so the webserver never creates a Job. But Terminate on a started run calls
    `run_launcher.terminate` in the webserver's process (dagster 1.13.27
    `QueuedRunCoordinator.cancel_run`), which in dagster-k8s 0.29.27 `delete_job` lists
    the Job's pods, deletes the Job and deletes the pods.
    """
    return [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["delete"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "list"]},
    ]
