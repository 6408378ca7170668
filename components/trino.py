"""Trino: one SQL endpoint over the lake (Iceberg on MinIO) and the warehouse (PostgreSQL).

Creates: a coordinator workload and, where the stack asks for them, a worker workload
(both stateless); their configuration as files under `/etc/trino` (which replaces the
image's defaults, so every file Trino needs is rendered here): `config.properties`,
`node.properties`, `jvm.config` sized from the memory limit, `log.properties`, the
catalogs, `access-control.properties` with `rules.json` rendered from the stack's typed
access policy (`components/trino_access.py`), and the file group provider. Where the
stack asks for authentication: one generated password per user with its bcrypt hash in
a secret password file, a generated TLS certificate (secret PEM keystore) and a
generated internal-communication shared secret.

Trino has no file reference for secrets (only `${ENV:...}`), so every properties file that
carries a credential (the two catalogs with their JDBC and S3 credentials, `config.properties`
with the internal-communication shared secret) is itself a secret file (a Kubernetes Secret
volume, or a secret Docker upload): no credential travels in env, none is in a ConfigMap.

Catalog files live in `/etc/trino-catalog` (set by `catalog.config-dir`), a sibling of
`/etc/trino` rather than a subdirectory, because on Kubernetes each directory is one
read-only projected volume and a mount point nested inside a read-only volume cannot be
created.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Self

import pulumi
import pulumi_random as random
from pydantic import Field, model_validator

from components.common import PinnedImage, ResourceSettings, image_version
from components.runtime.base import Runtime
from components.runtime.quantities import MEMORY_PATTERN, memory_bytes
from components.runtime.stack import SettingsModel, StackSettings, Tier
from components.runtime.workload import (
    ConfigFile,
    Connection,
    Endpoint,
    Port,
    Probe,
    ScratchDir,
    SecretFile,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from components.secrets import generated_password
from components.tls import generated_certificate
from components.trino_access import AccessPolicy, render_group_file, render_rules_json

SERVICE = "trino"
HTTP_PORT = 8080
HTTPS_PORT = 8443
CONFIG_DIR = "/etc/trino"
CATALOG_DIR = "/etc/trino-catalog"
DATA_DIR = "/data/trino"
LAKE_DATABASE = "iceberg"
WAREHOUSE_DATABASE = "warehouse"
TRINO_DATABASES = (LAKE_DATABASE, WAREHOUSE_DATABASE)
"""PostgreSQL databases Trino uses: the Iceberg JDBC catalog and the warehouse."""
ICEBERG_JDBC_CATALOG_DDL = (
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties ("
    "catalog_name VARCHAR(255) NOT NULL, namespace VARCHAR(255) NOT NULL, "
    "property_key VARCHAR(255), property_value VARCHAR(1000), "
    "PRIMARY KEY (catalog_name, namespace, property_key))",
    "CREATE TABLE IF NOT EXISTS iceberg_tables ("
    "catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL, "
    "table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), "
    "previous_metadata_location VARCHAR(1000), "
    "PRIMARY KEY (catalog_name, table_namespace, table_name))",
)
"""The tables Trino's Iceberg JDBC catalog needs in the `iceberg` database, created by its
owner before Trino first uses the lake: Trino does not create them (its first DDL fails with
`relation "iceberg_tables" does not exist`, seen on the real engine). From
https://trino.io/docs/current/object-storage/metastores.html#jdbc-catalog"""
TRINO_POSTGRES_LOGIN = "trino"
"""The PostgreSQL service login the warehouse catalog connects as (least privilege)."""
HEALTH_CHECK = "/usr/lib/trino/bin/health-check"
"""The image's own Docker HEALTHCHECK script (GET /v1/info, waits for `"starting": false`)."""

# Trino's defaults: a query may use 30% of the heap per node, and 30% stays headroom.
QUERY_MEMORY_FRACTION = 0.3
MIB = 2**20

Duration = Annotated[str, Field(pattern=r"^\d+(ms|s|m|h)$")]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")]


class Authentication(StrEnum):
    """How clients authenticate to the coordinator."""

    NONE = "none"
    PASSWORD = "password"


class LogLevel(StrEnum):
    """Trino's log levels for `io.trino`."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class NodeSettings(SettingsModel):
    """Size of one Trino node; the JVM heap is a fraction of the memory limit."""

    resources: ResourceSettings
    heap_fraction: float = Field(default=0.7, ge=0.5, le=0.85)

    @property
    def heap_mib(self) -> int:
        """`-Xmx` in MiB."""
        return int(memory_bytes(self.resources.memory_limit) * self.heap_fraction) // MIB

    @property
    def query_memory_mib(self) -> int:
        """`query.max-memory-per-node` in MiB."""
        return int(self.heap_mib * QUERY_MEMORY_FRACTION)


class WorkerSettings(NodeSettings):
    """The worker tier: how many and how big."""

    replicas: int = Field(ge=1, le=100)


class TrinoSettings(SettingsModel):
    """Trino of one stack: image, sizes, security, where the lake lives, and the access policy.

    Secure by default: password authentication over TLS; dev loosens it explicitly.
    """

    image: PinnedImage
    coordinator: NodeSettings
    workers: WorkerSettings | None = None
    authentication: Authentication = Authentication.PASSWORD
    tls: bool = True
    admin_host_port: int | None = Field(default=None, ge=1024, le=65535)
    access_refresh_period: Duration = "60s"
    data_dir_size: Annotated[str, Field(pattern=MEMORY_PATTERN)] = "4Gi"
    log_level: LogLevel = LogLevel.INFO
    warehouse_bucket: BucketName = "gold"
    object_store_user: str = "trino"
    s3_region: str = "us-east-1"
    run_as_user: int = Field(default=1000, ge=1)
    shutdown_grace_seconds: int = Field(default=60, ge=10, le=600)
    """`shutdown.grace-period` of a worker: it drains for twice this before it exits."""
    access: AccessPolicy

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.authentication is Authentication.PASSWORD and not self.tls:
            raise ValueError(
                "authentication 'password' needs tls: true (Trino accepts passwords over HTTPS only)"
            )
        if self.coordinator.query_memory_mib < 64:
            raise ValueError(
                f"coordinator heap of {self.coordinator.heap_mib} MiB is too small for Trino"
            )
        return self

    def tier_problems(self, tier: Tier) -> list[str]:
        """What this tier requires beyond the schema: TLS and passwords outside dev, prod workers."""
        problems: list[str] = []
        if tier is not Tier.DEV:
            if not self.tls:
                problems.append(f"trino.tls must be true in a {tier.value} stack")
            if self.authentication is not Authentication.PASSWORD:
                problems.append(f"trino.authentication must be 'password' in a {tier.value} stack")
        if tier is Tier.PROD and (self.workers is None or self.workers.replicas < 2):
            problems.append("trino.workers.replicas must be at least 2 in prod")
        problems += [f"trino.{p}" for p in self.access.tier_problems(tier)]
        return problems

    @property
    def node_count(self) -> int:
        """Nodes that run query tasks (the coordinator only schedules when workers exist)."""
        return self.workers.replicas if self.workers else 1


@dataclass(frozen=True, kw_only=True)
class S3Connection:
    """Where Trino reads and writes the lake's objects, and as whom."""

    endpoint: Endpoint
    access_key: pulumi.Input[str]
    secret_key: pulumi.Output[str]
    peer: Connection
    path_style: bool = True
    ca_certificate: pulumi.Output[str] | None = None
    """PEM of the certificate the S3 endpoint presents (HTTPS with a generated certificate)."""


@dataclass(frozen=True, kw_only=True)
class JdbcConnection:
    """A PostgreSQL database Trino connects to, and as whom."""

    endpoint: Endpoint
    database: str
    user: pulumi.Input[str]
    password: pulumi.Output[str]
    peer: Connection
    require_tls: bool = False

    @property
    def url(self) -> str:
        """The JDBC URL of the database (`sslmode=require` when the server demands TLS)."""
        query = "?sslmode=require" if self.require_tls else ""
        return f"jdbc:postgresql://{self.endpoint.address}/{self.database}{query}"


# --- rendered files (pure functions of settings and endpoints) ------------------------


def render_properties(values: dict[str, str]) -> str:
    """A Java properties file, one `key=value` per line, in the given order."""
    return "".join(f"{key}={value}\n" for key, value in values.items())


S3_CA_FILE = f"{CONFIG_DIR}/s3-ca.pem"
"""The certificate the S3 endpoint (MinIO over TLS) presents, delivered with the config."""
TRUSTSTORE = "/tmp/s3-truststore.jks"
"""The JVM trust store the start command builds from `S3_CA_FILE` (scratch /tmp)."""
RUN_TRINO = "/usr/lib/trino/bin/run-trino"
"""The image's own start command."""


def trust_s3_command(*, ca_file: str = S3_CA_FILE, truststore: str = TRUSTSTORE) -> str:
    """Shell that puts the S3 endpoint's certificate into a JKS trust store, for the JVM.

    Trino's S3 client trusts the JVM's trust store only, and Java reads no PEM trust
    store. A JKS store needs no password to be read (integrity is checked only when
    one is given), so its password is a throwaway per start and never configured.
    """
    return (
        "keytool -importcert -noprompt -storetype JKS -alias s3-endpoint "
        f"-file {ca_file} -keystore {truststore} "
        '-storepass "$(cat /proc/sys/kernel/random/uuid)" >/dev/null'
    )


def start_command(*, trust_s3: bool) -> tuple[str, ...]:
    """The container command: the image's `run-trino`, after building the trust store."""
    if not trust_s3:
        return ()
    return ("/bin/sh", "-c", f"set -eu; {trust_s3_command()}; exec {RUN_TRINO}")


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
    settings: TrinoSettings, *, discovery_uri: str, shared_secret: str | None
) -> str:
    """`config.properties` of the coordinator (a secret file when it carries `shared_secret`)."""
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


SHUTDOWN_USER = "graceful-shutdown"
"""Who the pre-stop hook says it is; workers run Trino's default access control, which
lets any user change the node state (the coordinator's rules.json does not apply there)."""


def graceful_shutdown_command() -> tuple[str, ...]:
    """A worker's pre-stop hook: ask it to shut down gracefully, then wait until it exits.

    `PUT /v1/info/state "SHUTTING_DOWN"` (https://trino.io/docs/current/admin/graceful-shutdown.html);
    the hook returns once the HTTP server stops answering, so the stop signal comes after
    the drain (or when the grace period ends).
    """
    url = f"http://localhost:{HTTP_PORT}/v1/info"
    script = (
        f"curl -fsS -X PUT -H 'Content-Type: application/json' -H 'X-Trino-User: {SHUTDOWN_USER}' "
        f"-d '\"SHUTTING_DOWN\"' {url}/state && "
        f"while curl -fsS -o /dev/null {url}; do sleep 5; done"
    )
    return ("/bin/sh", "-c", script)


def termination_grace_seconds(settings: TrinoSettings) -> int:
    """Longer than a worker's drain: two `shutdown.grace-period` waits plus 30 s to exit."""
    return 2 * settings.shutdown_grace_seconds + 30


class Trino(pulumi.ComponentResource):
    """Trino coordinator (and workers), catalogs, authentication and file-based access control."""

    endpoint: Endpoint
    internal_endpoint: Endpoint
    user_passwords: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: TrinoSettings,
        runtime: Runtime,
        s3: S3Connection,
        warehouse_dir: str,
        iceberg: JdbcConnection,
        warehouse: JdbcConnection,
        start_after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:query:Trino", name, None, opts)
        self._settings = settings
        version = image_version(settings.image)
        coordinator_id = WorkloadIdentity(service=SERVICE, component="coordinator", version=version)
        worker_id = WorkloadIdentity(service=SERVICE, component="worker", version=version)
        coordinator_host = runtime.internal_host(coordinator_id)
        discovery_uri = f"http://{coordinator_host}:{HTTP_PORT}"
        needs_secret = (
            settings.workers is not None or settings.authentication is Authentication.PASSWORD
        )

        shared_secret = (
            generated_password(f"{name}-internal-shared-secret", parent=self, length=64)
            if needs_secret
            else None
        )
        catalogs = self._catalog_files(
            s3=s3,
            warehouse_dir=warehouse_dir,
            iceberg=iceberg,
            warehouse=warehouse,
            region=settings.s3_region,
        )
        trust_s3 = s3.ca_certificate is not None
        if s3.ca_certificate is not None:
            # Both tiers read S3: the endpoint's certificate travels with the catalogs.
            catalogs += (SecretFile(path=S3_CA_FILE, content=s3.ca_certificate),)
        data_peers = _unique((s3.peer, iceberg.peer, warehouse.peer))

        self.user_passwords = {}
        secret_files: list[SecretFile] = []
        if settings.authentication is Authentication.PASSWORD:
            secret_files.append(
                SecretFile(path=f"{CONFIG_DIR}/password.db", content=self._password_file(name))
            )
        if settings.tls:
            certificate = generated_certificate(
                name,
                common_name=coordinator_host,
                dns_names=[coordinator_host, coordinator_id.base_name, "localhost"],
                parent=self,
            )
            keystore = pulumi.Output.all(certificate.key_pem, certificate.cert_pem).apply(
                lambda pems: "".join(p if p.endswith("\n") else p + "\n" for p in pems)
            )
            secret_files.append(
                SecretFile(path=f"{CONFIG_DIR}/server.pem", content=pulumi.Output.secret(keystore))
            )

        coordinator_config = _secret_render(
            shared_secret,
            lambda secret: render_coordinator_config(
                settings, discovery_uri=discovery_uri, shared_secret=secret
            ),
        )
        coordinator_files = (
            *self._node_files(stack, settings, settings.coordinator, trust_s3=trust_s3),
            ConfigFile(
                path=f"{CONFIG_DIR}/access-control.properties",
                content=render_access_control(settings),
            ),
            ConfigFile(path=f"{CONFIG_DIR}/rules.json", content=render_rules_json(settings.access)),
            ConfigFile(
                path=f"{CONFIG_DIR}/group-provider.properties", content=render_group_provider()
            ),
            ConfigFile(path=f"{CONFIG_DIR}/group.txt", content=render_group_file(settings.access)),
            *(
                (
                    ConfigFile(
                        path=f"{CONFIG_DIR}/password-authenticator.properties",
                        content=render_password_authenticator(),
                    ),
                )
                if settings.authentication is Authentication.PASSWORD
                else ()
            ),
        )
        if isinstance(coordinator_config, str):
            coordinator_files += (
                ConfigFile(path=f"{CONFIG_DIR}/config.properties", content=coordinator_config),
            )
        else:
            secret_files.append(
                SecretFile(path=f"{CONFIG_DIR}/config.properties", content=coordinator_config)
            )
        coordinator_peers = data_peers
        if settings.workers:
            coordinator_peers += (Connection(service=SERVICE, component="worker", port=HTTP_PORT),)
        admin_on_https = settings.tls
        coordinator = runtime.deploy(
            self._workload(
                settings,
                coordinator_id,
                settings.coordinator,
                replicas=1,
                ports=(
                    Port(
                        name="http",
                        container_port=HTTP_PORT,
                        admin_host_port=None if admin_on_https else settings.admin_host_port,
                    ),
                    *(
                        (
                            Port(
                                name="https",
                                container_port=HTTPS_PORT,
                                admin_host_port=settings.admin_host_port,
                            ),
                        )
                        if settings.tls
                        else ()
                    ),
                ),
                files=coordinator_files,
                secret_files=(*secret_files, *catalogs),
                connections=coordinator_peers,
                trust_s3=trust_s3,
            ),
            parent=self,
            after=start_after,
        )
        self.internal_endpoint = coordinator.endpoint("http")
        self.endpoint = (
            Endpoint(host=coordinator_host, port=HTTPS_PORT, scheme="https")
            if settings.tls
            else self.internal_endpoint
        )
        self.workers = settings.workers.replicas if settings.workers else 0
        if settings.workers:
            worker = settings.workers
            assert shared_secret is not None  # workers imply a shared secret (needs_secret)
            worker_config = shared_secret.apply(
                lambda secret: render_worker_config(
                    settings, worker, discovery_uri=discovery_uri, shared_secret=secret
                )
            )
            runtime.deploy(
                self._workload(
                    settings,
                    worker_id,
                    worker,
                    replicas=worker.replicas,
                    ports=(Port(name="http", container_port=HTTP_PORT),),
                    files=self._node_files(stack, settings, worker, trust_s3=trust_s3),
                    secret_files=(
                        SecretFile(
                            path=f"{CONFIG_DIR}/config.properties",
                            content=pulumi.Output.secret(worker_config),
                        ),
                        *catalogs,
                    ),
                    connections=(
                        *data_peers,
                        Connection(service=SERVICE, component="coordinator", port=HTTP_PORT),
                    ),
                    trust_s3=trust_s3,
                    drains=True,
                ),
                parent=self,
                after=start_after,
            )
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "internalEndpoint": self.internal_endpoint.url,
                "workers": self.workers,
                "users": sorted(self.user_passwords),
            }
        )

    def credentials(self, user: str) -> tuple[str, pulumi.Output[str]]:
        """User name and generated password (secret) of a declared user, e.g. a service user."""
        return user, self.user_passwords[user]

    def _password_file(self, name: str) -> pulumi.Output[str]:
        """`user:bcrypt-hash` lines; the hashes come from RandomPassword, never from this program."""
        hashes: list[pulumi.Output[str]] = []
        users = self._settings.access.users
        for user in users:
            password = random.RandomPassword(
                f"{name}-user-{user}-password",
                length=32,
                special=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.user_passwords[user] = pulumi.Output.secret(password.result)
            hashes.append(pulumi.Output.secret(password.bcrypt_hash))
        content = pulumi.Output.all(*hashes).apply(
            lambda values: "".join(f"{u}:{h}\n" for u, h in zip(users, values, strict=True))
        )
        return pulumi.Output.secret(content)

    @staticmethod
    def _catalog_files(
        *,
        s3: S3Connection,
        warehouse_dir: str,
        iceberg: JdbcConnection,
        warehouse: JdbcConnection,
        region: str,
    ) -> tuple[SecretFile, ...]:
        """The two catalogs as secret files: each carries its JDBC (and S3) credentials."""
        lake = pulumi.Output.all(
            iceberg.user, iceberg.password, s3.access_key, s3.secret_key
        ).apply(
            lambda v: render_lake_catalog(
                jdbc_url=iceberg.url,
                jdbc=Login(user=v[0], password=v[1]),
                s3_endpoint=s3.endpoint.url,
                s3=Login(user=v[2], password=v[3]),
                path_style=s3.path_style,
                warehouse_dir=warehouse_dir,
                region=region,
            )
        )
        warehouse_catalog = pulumi.Output.all(warehouse.user, warehouse.password).apply(
            lambda v: render_warehouse_catalog(
                jdbc_url=warehouse.url, jdbc=Login(user=v[0], password=v[1])
            )
        )
        return (
            SecretFile(path=f"{CATALOG_DIR}/lake.properties", content=pulumi.Output.secret(lake)),
            SecretFile(
                path=f"{CATALOG_DIR}/warehouse.properties",
                content=pulumi.Output.secret(warehouse_catalog),
            ),
        )

    @staticmethod
    def _node_files(
        stack: StackSettings, settings: TrinoSettings, node: NodeSettings, *, trust_s3: bool
    ) -> tuple[ConfigFile, ...]:
        return (
            ConfigFile(path=f"{CONFIG_DIR}/node.properties", content=render_node_properties(stack)),
            ConfigFile(
                path=f"{CONFIG_DIR}/jvm.config", content=render_jvm_config(node, trust_s3=trust_s3)
            ),
            ConfigFile(
                path=f"{CONFIG_DIR}/log.properties",
                content=render_log_properties(settings.log_level),
            ),
        )

    def _workload(
        self,
        settings: TrinoSettings,
        identity: WorkloadIdentity,
        node: NodeSettings,
        *,
        replicas: int,
        ports: tuple[Port, ...],
        files: tuple[ConfigFile, ...],
        secret_files: tuple[SecretFile, ...],
        connections: Sequence[Connection],
        trust_s3: bool,
        drains: bool = False,
    ) -> Workload:
        """One tier. The image's health check fails while Trino is still starting (an HTTP
        GET of /v1/info answers 200 then), so readiness and the startup probe run it; a
        draining tier (workers) gets the graceful-shutdown hook and a grace period longer
        than the two `shutdown.grace-period` waits."""
        health = (HEALTH_CHECK,)
        return Workload(
            identity=identity,
            kind=WorkloadKind.STATELESS,
            image=settings.image,
            ports=ports,
            command=start_command(trust_s3=trust_s3),
            config_files=files,
            secret_files=secret_files,
            scratch=(
                ScratchDir(name="data", mount_path=DATA_DIR, size_limit=settings.data_dir_size),
                ScratchDir(name="tmp", mount_path="/tmp", size_limit="1Gi", executable=True),
            ),
            connections=tuple(connections),
            resources=node.resources.to_resources(),
            startup=Probe(
                port=HTTP_PORT,
                path="/v1/info",
                exec_command=health,
                initial_delay_seconds=10,
                period_seconds=5,
                failure_threshold=60,
            ),
            readiness=Probe(
                port=HTTP_PORT,
                path="/v1/info",
                exec_command=health,
                initial_delay_seconds=0,
                period_seconds=10,
                failure_threshold=3,
            ),
            liveness=Probe(
                port=HTTP_PORT,
                path="/v1/info",
                exec_command=health,
                initial_delay_seconds=0,
                period_seconds=20,
            ),
            pre_stop=graceful_shutdown_command() if drains else (),
            termination_grace_period_seconds=(
                termination_grace_seconds(settings) if drains else None
            ),
            security=SecurityProfile(
                run_as_user=settings.run_as_user,
                run_as_group=settings.run_as_user,
                fs_group=settings.run_as_user,
            ),
            replicas=replicas,
        )


def _secret_render(
    secret: pulumi.Output[str] | None, render: Callable[[str | None], str]
) -> str | pulumi.Output[str]:
    """`render(None)` as plain text without a secret, else a secret Output of `render(secret)`."""
    if secret is None:
        return render(None)
    return pulumi.Output.secret(secret.apply(render))


def _unique(connections: Sequence[Connection]) -> tuple[Connection, ...]:
    """Connections without repeats, in first-seen order."""
    seen: list[Connection] = []
    for connection in connections:
        if connection not in seen:
            seen.append(connection)
    return tuple(seen)
