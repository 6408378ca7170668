"""What each Marquez tier runs: the API and the web UI as `Workload`s (both stateless).

- API (`marquezproject/marquez`): the container command is `api_start_script` (reads
  the database password from its secret file, then execs the image's own entrypoint
  with the rendered `marquez.yml`); ports 5000 (API) and 5001 (Dropwizard admin).
  Readiness and the startup probe are the admin `/healthcheck` (it includes Marquez's
  database check, so a pod that cannot reach PostgreSQL takes no traffic); liveness is
  the admin `/ping`, so a database outage does not restart every API pod at once. The
  startup probe allows five minutes: Flyway migrates the schema before the server binds.
- web (`marquezproject/marquez-web`): the image's `node setupProxy.js` with `web_env`
  (the API's in-platform host), its `/healthcheck` on 3000 as every probe.

Both run as a high non-root uid (no clash with a host user) with a read-only root and
`/tmp` as scratch. Neither needs an image user: the API image sets no USER (it would run
as root) and ships its jar and entrypoint world-readable; the web image's files (app,
`node_modules`, the built `dist/`) are root-owned and world-readable, and it writes
nothing. Probes are commands the images ship (curl in the Temurin base, busybox wget in Alpine),
so Docker's healthcheck and Kubernetes run the same check.

Upstream: Marquez 0.51.1 `Dockerfile`, `docker/entrypoint.sh`, `web/Dockerfile`,
`web/setupProxy.js`; Dropwizard admin servlet (`/healthcheck`, `/ping`).
"""

from __future__ import annotations

import pulumi

from components.common import image_version
from components.contracts import DatabaseAccess
from components.marquez.files import (
    ADMIN_PORT,
    API_PORT,
    CONFIG_FILE,
    DATABASE_CA_FILE,
    HEALTH_PATH,
    PASSWORD_FILE,
    WEB_PORT,
    PostgresEndpoint,
    api_start_script,
    marquez_yml,
    web_env,
)
from components.marquez.settings import MarquezSettings
from components.runtime.workload import (
    ConfigFile,
    Connection,
    Port,
    Probe,
    ScratchDir,
    SecretFile,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)

SERVICE = "marquez"
API_USER = 10001
WEB_USER = 10002
PING_PATH = "/ping"  # Dropwizard admin: answers while the JVM serves, whatever the database
JAVA_OPTS = "-XX:MaxRAMPercentage=75.0 -Djava.io.tmpdir=/tmp -Duser.home=/tmp"
"""Heap sized from the container's memory limit; the JVM's temp and home on the scratch dir
(the root is read-only; the uid has no home in the image)."""


def api_identity(settings: MarquezSettings) -> WorkloadIdentity:
    """The API workload's identity (its version is the image tag)."""
    return WorkloadIdentity(service=SERVICE, component="api", version=image_version(settings.image))


def web_identity(settings: MarquezSettings) -> WorkloadIdentity:
    """The web UI workload's identity."""
    return WorkloadIdentity(
        service=SERVICE, component="web", version=image_version(settings.web_image)
    )


def database_endpoint(access: DatabaseAccess) -> PostgresEndpoint:
    """Marquez's JDBC target from the database producer's grant.

    With TLS, pgjdbc verifies the server's certificate and host name (`verify-full`)
    against the server's trust anchor, mounted at `DATABASE_CA_FILE`
    (`database_ca_file`); else `disable` (the server offers none).
    """
    verify = access.ca_certificate is not None
    return PostgresEndpoint(
        host=access.endpoint.host,
        port=access.endpoint.port,
        database=access.database,
        user=access.user,
        sslmode="verify-full" if verify else "disable",
        sslrootcert=DATABASE_CA_FILE if verify else None,
    )


def database_ca_file(access: DatabaseAccess) -> tuple[SecretFile, ...]:
    """The server's trust anchor as the file `database_endpoint` names (none without TLS)."""
    if access.ca_certificate is None:
        return ()
    return (SecretFile(path=DATABASE_CA_FILE, content=access.ca_certificate),)


def _http_check(tool: tuple[str, ...], port: int, path: str) -> tuple[str, ...]:
    return (*tool, f"http://127.0.0.1:{port}{path}")


CURL = ("curl", "-fsS", "-o", "/dev/null", "--max-time", "4")
WGET = ("wget", "-q", "-O", "/dev/null", "-T", "4")


def _probe(
    tool: tuple[str, ...], port: int, path: str, *, period: int, threshold: int, delay: int = 0
) -> Probe:
    return Probe(
        port=port,
        path=path,
        exec_command=_http_check(tool, port, path),
        initial_delay_seconds=delay,
        period_seconds=period,
        failure_threshold=threshold,
    )


def api_workload(
    settings: MarquezSettings,
    *,
    db: PostgresEndpoint,
    password: pulumi.Output[str],
    database_peer: Connection,
    database_ca: tuple[SecretFile, ...] = (),
) -> Workload:
    """The API: `marquez.yml` as a config file, the password (and the database's trust
    anchor, `database_ca_file`) as secret files, one peer."""
    return Workload(
        identity=api_identity(settings),
        kind=WorkloadKind.STATELESS,
        image=settings.image,
        ports=(
            Port(name="http", container_port=API_PORT),
            Port(name="admin", container_port=ADMIN_PORT),
        ),
        command=tuple(api_start_script()),
        env={"JAVA_OPTS": JAVA_OPTS},
        config_files=(ConfigFile(path=CONFIG_FILE, content=marquez_yml(settings, db)),),
        secret_files=(
            SecretFile(path=PASSWORD_FILE, content=pulumi.Output.secret(password)),
            *database_ca,
        ),
        scratch=(ScratchDir(name="tmp", mount_path="/tmp", size_limit="256Mi"),),
        connections=(database_peer,),
        resources=settings.api_resources.to_resources(),
        startup=_probe(CURL, ADMIN_PORT, HEALTH_PATH, period=5, threshold=60, delay=10),
        readiness=_probe(CURL, ADMIN_PORT, HEALTH_PATH, period=10, threshold=3),
        liveness=_probe(CURL, ADMIN_PORT, PING_PATH, period=20, threshold=3),
        security=SecurityProfile(run_as_user=API_USER, run_as_group=API_USER, fs_group=API_USER),
        replicas=settings.api_replicas,
    )


def web_workload(settings: MarquezSettings, *, api_host: str, api_peer: Connection) -> Workload:
    """The web UI: proxies `/api/v1` to the API at `api_host` (the runtime's in-platform
    name of the API workload, never typed); its port is the operator's admin port when
    `webAdminHostPort` is set."""
    check = (WGET, WEB_PORT, HEALTH_PATH)
    return Workload(
        identity=web_identity(settings),
        kind=WorkloadKind.STATELESS,
        image=settings.web_image,
        ports=(
            Port(
                name="http", container_port=WEB_PORT, admin_host_port=settings.web_admin_host_port
            ),
        ),
        env=web_env(api_host=api_host, api_port=api_peer.port),
        scratch=(ScratchDir(name="tmp", mount_path="/tmp", size_limit="64Mi"),),
        connections=(api_peer,),
        resources=settings.web_resources.to_resources(),
        startup=_probe(*check, period=5, threshold=24, delay=5),
        readiness=_probe(*check, period=10, threshold=3),
        liveness=_probe(*check, period=20, threshold=3),
        security=SecurityProfile(run_as_user=WEB_USER, run_as_group=WEB_USER, fs_group=WEB_USER),
        replicas=settings.web_replicas,
    )
