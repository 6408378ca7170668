"""Trino's configuration files, rendered as text: pure functions of settings and endpoints.

Everything Trino reads under `/etc/trino` is rendered here, since the mounted directory
replaces the image's defaults: `config.properties` (coordinator, worker), `node.properties`,
`jvm.config` sized from the memory limit, `log.properties`, the two catalogs,
`access-control.properties`, `group-provider.properties` and
`password-authenticator.properties`. `rules.json` and the group file come from the
access policy (`components/trino/access.py`). The files that carry a credential (the
catalogs, a `config.properties` with the internal shared secret) are delivered as secret
files by the component: Trino has no file reference for secrets, only `${ENV:...}`.

Catalog files live in `/etc/trino-catalog` (set by `catalog.config-dir`), a sibling of
`/etc/trino` rather than a subdirectory, because on Kubernetes each directory is one
read-only projected volume and a mount point nested inside a read-only volume cannot be
created.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.runtime.stack import StackSettings
from components.trino.settings import (
    Authentication,
    LogLevel,
    NodeSettings,
    TrinoSettings,
    WorkerSettings,
)

HTTP_PORT = 8080
HTTPS_PORT = 8443
CONFIG_DIR = "/etc/trino"
CATALOG_DIR = "/etc/trino-catalog"
DATA_DIR = "/data/trino"
S3_CA_FILE = f"{CONFIG_DIR}/s3-ca.pem"
POSTGRES_CA_FILE = f"{CONFIG_DIR}/postgres-ca.pem"
"""The PostgreSQL server's trust anchor, which both catalogs' JDBC URLs verify it against."""
"""The certificate the S3 endpoint (MinIO over TLS) presents, delivered with the config."""
TRUSTSTORE = "/tmp/s3-truststore.jks"
"""The JVM trust store the start command builds from `S3_CA_FILE` (scratch /tmp)."""


def render_properties(values: dict[str, str]) -> str:
    """A Java properties file, one `key=value` per line, in the given order."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


def render_jvm_config(node: NodeSettings, *, trust_s3: bool = False) -> str:
    """JVM options: the image's defaults with a heap sized from the memory limit, and the
    S3 trust store when the object store serves TLS with its own certificate."""
    options = (
        "-server",
        "-agentpath:/usr/lib/trino/bin/libjvmkill.so",
        # Trino >= 477 refuses to start without the Vector API ("Trino requires the Vector
        # API to be enabled/linked at runtime"), seen when starting 483 from its jars.
        "--add-modules=jdk.incubator.vector",
        f"-Xmx{node.heap_mib}M",
        "-XX:G1HeapRegionSize=32M",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:ReservedCodeCacheSize=256M",
        "-XX:PerMethodRecompilationCutoff=10000",
        "-XX:PerBytecodeRecompilationCutoff=10000",
        "-Djdk.attach.allowAttachSelf=true",
        "-Djdk.nio.maxCachedBufferSize=2000000",
        "-Dfile.encoding=UTF-8",
        "-XX:+EnableDynamicAgentLoading",
        *((f"-Djavax.net.ssl.trustStore={TRUSTSTORE}",) if trust_s3 else ()),
    )
    return "\n".join(options) + "\n"


def render_node_properties(stack: StackSettings) -> str:
    """`node.properties`: the environment name and the data dir; node.id comes from HOSTNAME."""
    return render_properties(
        {
            "node.environment": stack.environment.replace("-", "_"),
            "node.data-dir": DATA_DIR,
        }
    )


def render_log_properties(level: LogLevel) -> str:
    """`log.properties`."""
    return render_properties({"io.trino": level.value})


@dataclass(frozen=True, kw_only=True)
class Login:
    """A user name and its password, as the rendered secret files carry them."""

    user: str
    password: str


def render_lake_catalog(
    *,
    jdbc_url: str,
    jdbc: Login,
    s3_endpoint: str,
    s3: Login,
    path_style: bool,
    warehouse_dir: str,
    region: str,
) -> str:
    """`lake.properties`: Iceberg with a JDBC catalog in PostgreSQL, data on S3 (MinIO).

    Carries credentials, so it is delivered as a secret file. See
    https://trino.io/docs/current/object-storage/metastores.html#jdbc-catalog and
    https://trino.io/docs/current/object-storage/file-system-s3.html
    """
    return render_properties(
        {
            "connector.name": "iceberg",
            "iceberg.catalog.type": "jdbc",
            "iceberg.jdbc-catalog.catalog-name": "lake",
            "iceberg.jdbc-catalog.driver-class": "org.postgresql.Driver",
            "iceberg.jdbc-catalog.connection-url": jdbc_url,
            "iceberg.jdbc-catalog.connection-user": jdbc.user,
            "iceberg.jdbc-catalog.connection-password": jdbc.password,
            "iceberg.jdbc-catalog.default-warehouse-dir": warehouse_dir,
            # 476 (what the tests run) knows only this name; 483 accepts it beside its newer
            # `fs.s3.enabled`, so one file runs on both.
            "fs.native-s3.enabled": "true",
            "s3.endpoint": s3_endpoint,
            "s3.region": region,
            "s3.path-style-access": str(path_style).lower(),
            "s3.aws-access-key": s3.user,
            "s3.aws-secret-key": s3.password,
        }
    )


def render_warehouse_catalog(*, jdbc_url: str, jdbc: Login) -> str:
    """`warehouse.properties`: the PostgreSQL connector on the warehouse database (secret).

    Inserts are non-transactional: otherwise Trino first creates a temporary table in the
    target schema, which the least-privileged `trino` login may not do ("permission denied
    for schema staging", seen on the real engine); a failed insert can then leave the rows
    it wrote so far (https://trino.io/docs/current/connector/postgresql.html#non-transactional-insert).
    """
    return render_properties(
        {
            "connector.name": "postgresql",
            "connection-url": jdbc_url,
            "connection-user": jdbc.user,
            "connection-password": jdbc.password,
            "insert.non-transactional-insert.enabled": "true",
        }
    )


def render_coordinator_config(
    settings: TrinoSettings,
    *,
    discovery_uri: str,
    shared_secret: str | None,
    event_listeners: Sequence[str] = (),
) -> str:
    """`config.properties` of the coordinator (a secret file when it carries `shared_secret`);
    `event_listeners` are the listener files it loads (`event-listener.config-files`)."""
    values = {
        "coordinator": "true",
        "node-scheduler.include-coordinator": "false" if settings.workers else "true",
        "http-server.http.port": str(HTTP_PORT),
        "discovery.uri": discovery_uri,
        "catalog.config-dir": CATALOG_DIR,
        "query.max-memory": f"{_cluster_query_memory(settings)}MB",
        "query.max-memory-per-node": f"{settings.coordinator.query_memory_mib}MB",
    }
    if settings.tls:
        values |= {
            "http-server.https.enabled": "true",
            "http-server.https.port": str(HTTPS_PORT),
            "http-server.https.keystore.path": f"{CONFIG_DIR}/server.pem",
        }
    if settings.authentication is Authentication.PASSWORD:
        values["http-server.authentication.type"] = "PASSWORD"
    if event_listeners:
        values["event-listener.config-files"] = ",".join(event_listeners)
    if shared_secret is not None:
        values["internal-communication.shared-secret"] = shared_secret
    return render_properties(values)


def render_worker_config(
    settings: TrinoSettings, worker: WorkerSettings, *, discovery_uri: str, shared_secret: str
) -> str:
    """`config.properties` of a worker (secret: workers always share the internal secret).

    `shutdown.grace-period` is how long a worker told to shut down keeps accepting tasks,
    and again how long it waits after its last task, before it exits
    (https://trino.io/docs/current/admin/graceful-shutdown.html).
    """
    return render_properties(
        {
            "coordinator": "false",
            "http-server.http.port": str(HTTP_PORT),
            "discovery.uri": discovery_uri,
            "catalog.config-dir": CATALOG_DIR,
            "query.max-memory": f"{_cluster_query_memory(settings)}MB",
            "query.max-memory-per-node": f"{worker.query_memory_mib}MB",
            "shutdown.grace-period": f"{settings.shutdown_grace_seconds}s",
            "internal-communication.shared-secret": shared_secret,
        }
    )


def _cluster_query_memory(settings: TrinoSettings) -> int:
    node = settings.workers or settings.coordinator
    return node.query_memory_mib * settings.node_count


def render_access_control(settings: TrinoSettings) -> str:
    """`access-control.properties`: file-based system access control, refreshed."""
    return render_properties(
        {
            "access-control.name": "file",
            "security.config-file": f"{CONFIG_DIR}/rules.json",
            "security.refresh-period": settings.access_refresh_period,
        }
    )


def render_group_provider() -> str:
    """`group-provider.properties`: groups come from the rendered group file."""
    return render_properties(
        {"group-provider.name": "file", "file.group-file": f"{CONFIG_DIR}/group.txt"}
    )


def render_password_authenticator() -> str:
    """`password-authenticator.properties`: bcrypt hashes from the secret password file."""
    return render_properties(
        {"password-authenticator.name": "file", "file.password-file": f"{CONFIG_DIR}/password.db"}
    )
