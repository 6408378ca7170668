"""What each Dagster tier runs: the `Workload` specs of the webserver, the daemon, every
code location and (Docker only) the socket proxy.

Every Dagster process starts through the start script (`files.start_script`), which
copies the libpq password file to a private 0600 file on a memory scratch dir; every one
reads `dagster.yaml` from `DAGSTER_HOME` (a read-only file volume) and writes only to
its scratch dirs. Probes run a command, so the check is the same on both targets:
the webserver's `/server_info`, `dagster-daemon liveness-check` (the daemon's heartbeat
in the instance), and `dagster api grpc-health-check` (a gRPC ping of the code server;
it does not open the instance, so a PostgreSQL outage does not restart code servers).
https://docs.dagster.io/deployment/oss/deployment-options/kubernetes
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from components.common import ResourceSettings, image_version
from components.dagster.files import (
    DAGSTER_HOME,
    GRPC_PORT,
    POSTGRES_CA_SECRET,
    RUNTIME_DIR,
    SCRATCH_DIR,
    SOCKET_PROXY_PORT,
    WEBSERVER_PORT,
    WORKSPACE_FILE,
    daemon_command,
    grpc_command,
    run_launcher_role_rules,
    run_terminator_role_rules,
    socket_proxy_args,
    start_script,
    webserver_command,
)
from components.dagster.settings import CodeLocation, DagsterSettings
from components.runtime.workload import (
    ApiAccess,
    ApiRule,
    ConfigFile,
    Connection,
    InitStep,
    LaunchedPods,
    Port,
    Probe,
    ScratchDir,
    SecretFile,
    SecurityProfile,
    Volume,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)

SERVICE = "dagster"
NOBODY = 65534
PROXY_RESOURCES = ResourceSettings(
    cpu_request="10m", cpu_limit="250m", memory_request="16Mi", memory_limit="64Mi"
)
RUN_SECRETS_VOLUME = "run-secrets"
RUN_SECRETS_STAGING = "/run/dagster-runs"
"""Docker: where the daemon's init step fills the volume its runs mount at `RUNTIME_DIR`."""
RUN_SECRETS_SOURCE = "/var/run/secrets/dagster-runs"
"""Docker: the daemon's copy of the runs' files (rendered for `RUNTIME_DIR`), staged from here."""


@dataclass(frozen=True, kw_only=True)
class Instance:
    """What every Dagster process of a stack shares: its files and the peers it opens.

    `files`: `dagster.yaml` and `workspace.yaml` (config); `pgpass`: the password file
    (secret); `database_ca`: the PostgreSQL server's trust anchor (none without TLS);
    `database`: the PostgreSQL peer; `user_code`: the env, secret files and peers of user
    code (code servers and runs).
    """

    files: tuple[ConfigFile, ...]
    pgpass: SecretFile
    database_ca: tuple[SecretFile, ...] = ()
    database: Connection
    user_code_env: Mapping[str, str]
    user_code_files: tuple[SecretFile, ...]
    run_files: tuple[SecretFile, ...] = ()
    """Docker: the runs' pgpass and user-code files, placed in `RUN_SECRETS_SOURCE`."""
    user_code_peers: tuple[Connection, ...]


def instance_start(instance: Instance, command: list[str]) -> tuple[str, ...]:
    """`start_script` of `command`: the password file's copy, and the database's trust
    anchor's where the instance has one (`dagster.yaml` names the copy)."""
    if instance.database_ca:
        return tuple(start_script(command, ca_source=POSTGRES_CA_SECRET))
    return tuple(start_script(command))


def identity(
    settings: DagsterSettings, component: str, image: str | None = None
) -> WorkloadIdentity:
    """`dagster-<component>`, versioned by its image's tag."""
    return WorkloadIdentity(
        service=SERVICE, component=component, version=image_version(image or settings.image)
    )


def location_identity(settings: DagsterSettings, location: CodeLocation) -> WorkloadIdentity:
    """A code location's server: `dagster-code-<name>`."""
    return identity(settings, f"code-{location.name}", location.image)


def run_identity(settings: DagsterSettings) -> WorkloadIdentity:
    """The labels of launched run pods (Kubernetes Jobs): `dagster-run`."""
    return identity(settings, "run")


def _security(uid: int, gid: int | None = None) -> SecurityProfile:
    group = uid if gid is None else gid
    return SecurityProfile(run_as_user=uid, run_as_group=group, fs_group=group)


def _scratch() -> tuple[ScratchDir, ...]:
    return (
        ScratchDir(name="dagster-runtime", mount_path=RUNTIME_DIR, size_limit="1Mi"),
        ScratchDir(name="dagster-scratch", mount_path=SCRATCH_DIR, size_limit="1Gi"),
    )


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    base = {"DAGSTER_HOME": DAGSTER_HOME, "HOME": SCRATCH_DIR, "TMPDIR": SCRATCH_DIR}
    return dict(sorted({**base, **(extra or {})}.items()))


def _command_probe(
    command: tuple[str, ...],
    port: int,
    *,
    initial_delay_seconds: int = 10,
    period_seconds: int = 10,
    failure_threshold: int = 6,
) -> Probe:
    """A command probe (seconds); `port` is informational (the command is the check)."""
    return Probe(
        port=port,
        exec_command=command,
        timeout_seconds=10,
        initial_delay_seconds=initial_delay_seconds,
        period_seconds=period_seconds,
        failure_threshold=failure_threshold,
    )


def _python_probe(
    code: str,
    port: int,
    *,
    initial_delay_seconds: int = 10,
    period_seconds: int = 10,
    failure_threshold: int = 6,
) -> Probe:
    """`python -c CODE` as the probe (the Dagster images ship Python, not curl)."""
    return _command_probe(
        ("python", "-c", code),
        port,
        initial_delay_seconds=initial_delay_seconds,
        period_seconds=period_seconds,
        failure_threshold=failure_threshold,
    )


def _api(rules: list[dict[str, list[str]]]) -> ApiAccess:
    return ApiAccess(
        rules=tuple(
            ApiRule(
                api_groups=tuple(rule["apiGroups"]),
                resources=tuple(rule["resources"]),
                verbs=tuple(rule["verbs"]),
            )
            for rule in rules
        )
    )


def _locations(settings: DagsterSettings) -> tuple[Connection, ...]:
    return tuple(
        Connection(service=SERVICE, component=f"code-{location.name}", port=GRPC_PORT)
        for location in settings.code_locations
    )


def webserver_workload(
    settings: DagsterSettings, instance: Instance, *, kubernetes: bool
) -> Workload:
    """The UI/GraphQL server. It launches nothing (runs are queued for the daemon); on
    Kubernetes it may terminate runs (`run_terminator_role_rules`)."""
    url = f"http://127.0.0.1:{WEBSERVER_PORT}/server_info"
    check = f"import urllib.request; urllib.request.urlopen({url!r}, timeout=8)"
    return Workload(
        identity=identity(settings, "webserver"),
        kind=WorkloadKind.STATELESS,
        image=settings.image,
        ports=(
            Port(
                name="http",
                container_port=WEBSERVER_PORT,
                admin_host_port=settings.webserver.admin_host_port,
            ),
        ),
        command=instance_start(instance, webserver_command()),
        env=_env(),
        config_files=instance.files,
        secret_files=(instance.pgpass, *instance.database_ca),
        scratch=_scratch(),
        connections=(instance.database, *_locations(settings)),
        resources=settings.webserver.resources.to_resources(),
        security=_security(settings.run_as_user),
        startup=_python_probe(check, WEBSERVER_PORT, period_seconds=5, failure_threshold=36),
        readiness=_python_probe(check, WEBSERVER_PORT, initial_delay_seconds=0),
        liveness=_python_probe(check, WEBSERVER_PORT, initial_delay_seconds=0, period_seconds=30),
        replicas=settings.webserver.replicas,
        api_access=_api(run_terminator_role_rules()) if kubernetes else None,
    )


def daemon_workload(
    settings: DagsterSettings,
    instance: Instance,
    *,
    kubernetes: bool,
    proxy_host: str | None = None,
) -> Workload:
    """The one daemon: single instance, so a rollout never runs two (they would both
    dequeue runs). On Kubernetes it holds the run launcher's Role and its run pods get
    user code's connections; on Docker it reaches the engine only through the socket
    proxy at `proxy_host`, and stages the run containers' secret files in a volume."""
    liveness = ("dagster-daemon", "liveness-check")
    base = Workload(
        identity=identity(settings, "daemon"),
        kind=WorkloadKind.STATELESS,
        image=settings.image,
        ports=(),
        command=instance_start(instance, daemon_command()),
        env=_env(),
        config_files=instance.files,
        secret_files=(instance.pgpass, *instance.database_ca),
        scratch=_scratch(),
        connections=(instance.database, *_locations(settings)),
        resources=settings.daemon.resources.to_resources(),
        security=_security(settings.run_as_user),
        startup=_command_probe(liveness, 0, period_seconds=10, failure_threshold=30),
        readiness=_command_probe(liveness, 0, initial_delay_seconds=0, period_seconds=30),
        liveness=_command_probe(liveness, 0, initial_delay_seconds=0, period_seconds=60),
        single_instance=True,
    )
    if kubernetes:
        return replace(
            base,
            api_access=_api(run_launcher_role_rules()),
            launches=LaunchedPods(
                identity=run_identity(settings),
                connections=(instance.database, *instance.user_code_peers),
            ),
        )
    assert proxy_host is not None
    stage = (
        f"umask 077 && cp {RUN_SECRETS_SOURCE}/* {RUN_SECRETS_STAGING}/ && "
        f"chmod 0600 {RUN_SECRETS_STAGING}/*"
    )
    proxy = Connection(service=SERVICE, component="socket-proxy", port=SOCKET_PROXY_PORT)
    return replace(
        base,
        env=_env({"DOCKER_HOST": f"tcp://{proxy_host}:{SOCKET_PROXY_PORT}"}),
        # Run containers read their files from the staged volume, never from the daemon.
        secret_files=(instance.pgpass, *instance.database_ca, *instance.run_files),
        data_classification="restricted",  # the staged volume holds credentials
        volumes=(Volume(name=RUN_SECRETS_VOLUME, mount_path=RUN_SECRETS_STAGING, size="1Mi"),),
        init=(InitStep(name="stage-run-secrets", command=("sh", "-c", stage)),),
        connections=(*base.connections, proxy),
    )


def location_workload(
    settings: DagsterSettings, location: CodeLocation, instance: Instance
) -> Workload:
    """One code location's gRPC server, with user code's env, files and peers.

    `DAGSTER_CURRENT_IMAGE` tells the run launcher which image runs of this location use.
    """
    health = ("dagster", "api", "grpc-health-check", "-p", str(GRPC_PORT))
    return Workload(
        identity=location_identity(settings, location),
        kind=WorkloadKind.STATELESS,
        image=location.image,
        ports=(Port(name="grpc", container_port=GRPC_PORT),),
        command=instance_start(instance, grpc_command(location)),
        env=_env({**instance.user_code_env, "DAGSTER_CURRENT_IMAGE": location.image}),
        config_files=tuple(f for f in instance.files if f.path != WORKSPACE_FILE),
        secret_files=(instance.pgpass, *instance.database_ca, *instance.user_code_files),
        scratch=_scratch(),
        connections=(instance.database, *instance.user_code_peers),
        resources=location.resources.to_resources(),
        security=_security(settings.run_as_user),
        startup=_command_probe(health, GRPC_PORT, period_seconds=5, failure_threshold=60),
        readiness=_command_probe(health, GRPC_PORT, initial_delay_seconds=0, period_seconds=20),
        liveness=_command_probe(health, GRPC_PORT, initial_delay_seconds=0, period_seconds=30),
        replicas=location.replicas,
    )


def socket_proxy_workload(settings: DagsterSettings, *, allow_from: str) -> Workload:
    """Docker only: the filtering proxy in front of the engine's socket (`socket_proxy_args`).

    Runs as nobody in the socket's group, read-only, no capabilities; its own health
    check binary answers once the socket is reachable.
    """
    health = Probe(port=SOCKET_PROXY_PORT, exec_command=("./healthcheck",), timeout_seconds=5)
    return Workload(
        identity=identity(settings, "socket-proxy", settings.socket_proxy_image),
        kind=WorkloadKind.STATELESS,
        image=settings.socket_proxy_image,
        ports=(Port(name="api", container_port=SOCKET_PROXY_PORT),),
        args=(*socket_proxy_args(allow_from=allow_from), "-allowhealthcheck"),
        resources=PROXY_RESOURCES.to_resources(),
        security=_security(NOBODY, settings.engine_socket_gid),
        readiness=health,
        liveness=health,
        engine_socket=True,
    )
