"""The `Dagster` component: webserver, one daemon and the stack's code locations.

Creates, through the runtime: every code location's gRPC server, the webserver and the
daemon (`workloads.py`), all reading one rendered `dagster.yaml` (PostgreSQL storage in
the `dagster` database, queued runs with the stack's limits, the target's run launcher,
run monitoring, tick retention, telemetry off) and one `workspace.yaml` listing the code
servers by their in-platform host. The password reaches every process as a libpq
password file (`files.pgpass_line`), never in YAML or env. Kubernetes: the daemon's
ServiceAccount holds the run launcher's Role (Jobs, Pods, Pod logs in the namespace),
the webserver's a terminate-only Role, run pods get user code's NetworkPolicies.
Docker: the daemon launches run containers through a socket proxy, the only container
that mounts the engine's socket. Options set on the component flow to every child; its
`depends_on` does not: the pods wait for exactly their logins and users (`start_after`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import pulumi

from components.contracts import DatabaseAccess
from components.dagster.files import (
    DAGSTER_HOME,
    PGPASS_SECRET,
    POSTGRES_CA_FILE,
    POSTGRES_CA_SECRET,
    RUNTIME_DIR,
    SCRATCH_DIR,
    SECRET_DIR,
    WORKSPACE_FILE,
    DockerLauncher,
    KubernetesLauncher,
    PostgresConnection,
    RunLauncher,
    dagster_yaml,
    pgpass_line,
    workspace_yaml,
)
from components.dagster.settings import DagsterSettings
from components.dagster.user_code import UserCodeAccess, user_code_env, user_code_secret_files
from components.dagster.workloads import (
    RUN_SECRETS_SOURCE,
    RUN_SECRETS_VOLUME,
    Instance,
    daemon_workload,
    identity,
    location_identity,
    location_workload,
    run_identity,
    socket_proxy_workload,
    webserver_workload,
)
from components.options import flowing_options
from components.runtime import labels
from components.runtime.base import Runtime
from components.runtime.docker import DockerRuntime
from components.runtime.kubernetes import KubernetesRuntime
from components.runtime.kubernetes.files import config_map_name, file_key, secret_name
from components.runtime.stack import StackSettings
from components.runtime.workload import ConfigFile, Endpoint, SecretFile, Workload

RUN_SERVICE_ACCOUNT = "default"
"""Run pods' account: the namespace's own, with no Role and no token mounted."""


class Dagster(pulumi.ComponentResource):
    """Dagster of one stack on the runtime (Docker or Kubernetes)."""

    endpoint: Endpoint
    dagster_yaml: str
    workspace_yaml: str

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: DagsterSettings,
        runtime: Runtime,
        database: DatabaseAccess,
        user_code: UserCodeAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:pipelines:Dagster", name, None, flowing_options(opts))
        self._stack, self._settings, self._runtime = stack, settings, runtime
        verify = database.ca_certificate is not None
        storage = PostgresConnection(
            host=database.endpoint.host,
            port=database.endpoint.port,
            database=database.database,
            username=database.user,
            sslmode="verify-full" if verify else "disable",
            sslrootcert=POSTGRES_CA_FILE if verify else None,
        )
        pgpass = SecretFile(
            path=PGPASS_SECRET,
            content=pulumi.Output.secret(
                database.password.apply(lambda password: pgpass_line(storage, password))
            ),
        )
        database_ca = (
            (SecretFile(path=POSTGRES_CA_SECRET, content=database.ca_certificate),)
            if database.ca_certificate is not None
            else ()
        )
        instance = self._instance(storage, (pgpass, *database_ca), database, user_code)
        after = tuple(database.ready)
        for location in settings.code_locations:
            runtime.deploy(
                location_workload(settings, location, instance),
                parent=self,
                after=(*after, *user_code.ready),
            )
        web = runtime.deploy(
            webserver_workload(settings, instance, kubernetes=self._kubernetes),
            parent=self,
            after=after,
        )
        runtime.deploy(self._daemon(instance), parent=self, after=after)
        self.endpoint = web.endpoint("http")
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "codeLocations": [location.name for location in settings.code_locations],
                "runLauncher": "K8sRunLauncher" if self._kubernetes else "DockerRunLauncher",
            }
        )

    @property
    def _kubernetes(self) -> bool:
        return isinstance(self._runtime, KubernetesRuntime)

    def _instance(
        self,
        storage: PostgresConnection,
        database_files: tuple[SecretFile, ...],
        database: DatabaseAccess,
        user_code: UserCodeAccess,
    ) -> Instance:
        """The shared files (`dagster.yaml`, `workspace.yaml`) and user code's env and files;
        `database_files`: the password file, then the server's trust anchor (with TLS)."""
        pgpass, *database_ca = database_files
        settings = self._settings
        code_files = user_code_secret_files(user_code, secret_dir=SECRET_DIR)
        hosts = {
            location.name: self._runtime.internal_host(location_identity(settings, location))
            for location in settings.code_locations
        }
        run_files = self._run_files(user_code, database_files)
        launcher = self._launcher(user_code, (*database_files, *code_files))
        self.dagster_yaml = dagster_yaml(settings, storage=storage, launcher=launcher)
        self.workspace_yaml = workspace_yaml(settings, hosts)
        peers = [user_code.s3.peer]
        peers += [a.peer for a in (user_code.lineage, user_code.stream, user_code.metrics) if a]
        return Instance(
            files=(
                ConfigFile(path=f"{DAGSTER_HOME}/dagster.yaml", content=self.dagster_yaml),
                ConfigFile(path=WORKSPACE_FILE, content=self.workspace_yaml),
            ),
            pgpass=pgpass,
            database_ca=tuple(database_ca),
            database=database.peer.connection(),
            user_code_env=user_code_env(user_code, secret_dir=SECRET_DIR),
            user_code_files=code_files,
            user_code_peers=tuple(dict.fromkeys(peer.connection() for peer in peers)),
            run_files=run_files,
        )

    def _run_files(
        self, user_code: UserCodeAccess, database_files: Sequence[SecretFile]
    ) -> tuple[SecretFile, ...]:
        """Docker: what the daemon stages for its run containers, which find it at
        `RUNTIME_DIR` (the password file, the database's trust anchor and user code's
        files, rendered for that path). Kubernetes run pods mount a code location's
        Secret instead: none."""
        if self._kubernetes:
            return ()
        staged = tuple(
            SecretFile(path=f"{RUN_SECRETS_SOURCE}/{posixpath.basename(f.path)}", content=f.content)
            for f in database_files
        )
        files = user_code_secret_files(
            user_code, secret_dir=RUNTIME_DIR, place_in=RUN_SECRETS_SOURCE
        )
        return (*staged, *files)

    def _launcher(self, user_code: UserCodeAccess, run_files: Sequence[SecretFile]) -> RunLauncher:
        """The target's run launcher: runs get user code's env and files, and the labels
        of `run_identity` (their NetworkPolicies select them by those)."""
        settings, stack = self._settings, self._stack
        run_labels = labels.workload_labels(stack, run_identity(settings))
        if isinstance(self._runtime, KubernetesRuntime):
            daemon = identity(settings, "daemon").name
            first = location_identity(settings, settings.code_locations[0]).name
            env = user_code_env(user_code, secret_dir=SECRET_DIR)
            return KubernetesLauncher(
                job_namespace=self._runtime.namespace_name,
                service_account_name=RUN_SERVICE_ACCOUNT,
                instance_config_map=config_map_name(daemon),
                # Every code location's Secret holds the same user-code files and pgpass.
                pgpass_secret=secret_name(first),
                secret_items={file_key(f.path): posixpath.basename(f.path) for f in run_files},
                init_image=settings.image,
                env_vars=_run_env(env),
                labels=run_labels,
                postgres_ca=any(f.path == POSTGRES_CA_SECRET for f in run_files),
            )
        assert isinstance(self._runtime, DockerRuntime)
        daemon = identity(settings, "daemon").name
        env = user_code_env(user_code, secret_dir=RUNTIME_DIR)
        return DockerLauncher(
            network=self._runtime.network_name,
            env_vars=_run_env({"DAGSTER_HOME": DAGSTER_HOME, **env}),
            volumes={f"{stack.prefix}-{daemon}-{RUN_SECRETS_VOLUME}": RUNTIME_DIR},
            labels=run_labels,
        )

    def _daemon(self, instance: Instance) -> Workload:
        """The daemon; on Docker, after the socket proxy that is its only way to the engine."""
        settings = self._settings
        if self._kubernetes:
            return daemon_workload(settings, instance, kubernetes=True)
        daemon_host = self._runtime.internal_host(identity(settings, "daemon"))
        proxy = socket_proxy_workload(settings, allow_from=daemon_host)
        self._runtime.deploy(proxy, parent=self)
        return daemon_workload(
            settings,
            instance,
            kubernetes=False,
            proxy_host=self._runtime.internal_host(proxy.identity),
        )


def _run_env(env: dict[str, str]) -> tuple[str, ...]:
    """`NAME=value` entries of a run: user code's env, a writable home and temp dir."""
    every = {**env, "HOME": SCRATCH_DIR, "TMPDIR": SCRATCH_DIR}
    return tuple(f"{key}={value}" for key, value in sorted(every.items()))
