"""What each Trino tier runs: the start and drain commands, the files it reads, its Workload.

A tier (the coordinator, the workers) is one stateless `Workload`: the image's own start
command (after building the S3 trust store when the object store serves TLS with its
own certificate), its plain and secret files, scratch space, the image's health check as
startup, readiness and liveness probe, and for draining workers Trino's graceful
shutdown (https://trino.io/docs/current/admin/graceful-shutdown.html).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi

from components.runtime.stack import StackSettings
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
from components.trino.access import render_group_file, render_rules_json
from components.trino.connections import (
    JdbcConnection,
    LineageConnection,
    S3Connection,
    StreamConnection,
)
from components.trino.files import (
    CATALOG_DIR,
    CONFIG_DIR,
    DATA_DIR,
    HTTP_PORT,
    HTTPS_PORT,
    S3_CA_FILE,
    TRUSTSTORE,
    Login,
    render_access_control,
    render_group_provider,
    render_jvm_config,
    render_lake_catalog,
    render_log_properties,
    render_node_properties,
    render_password_authenticator,
    render_warehouse_catalog,
)
from components.trino.settings import Authentication, NodeSettings, TrinoSettings
from components.trino.streams import (
    KAFKA_CA_FILE,
    KAFKA_CATALOG_FILE,
    KAFKA_CLIENT_FILE,
    KAFKA_LISTENER_FILE,
    OPENLINEAGE_LISTENER_FILE,
    KafkaClient,
    render_kafka_catalog,
    render_kafka_client,
    render_kafka_event_listener,
    render_openlineage_listener,
)

HEALTH_CHECK = "/usr/lib/trino/bin/health-check"
"""The image's own Docker HEALTHCHECK script (GET /v1/info, waits for `"starting": false`)."""
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


def catalog_files(
    *,
    s3: S3Connection,
    warehouse_dir: str,
    iceberg: JdbcConnection,
    warehouse: JdbcConnection,
    region: str,
) -> tuple[SecretFile, ...]:
    """The two catalogs as secret files (each carries its JDBC and S3 credentials) and
    the PostgreSQL server's trust anchor their JDBC URLs verify the server against."""
    lake = pulumi.Output.all(iceberg.user, iceberg.password, s3.access_key, s3.secret_key).apply(
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
    files = (
        SecretFile(path=f"{CATALOG_DIR}/lake.properties", content=pulumi.Output.secret(lake)),
        SecretFile(
            path=f"{CATALOG_DIR}/warehouse.properties",
            content=pulumi.Output.secret(warehouse_catalog),
        ),
    )
    return files + database_ca_files(iceberg, warehouse)


def database_ca_files(*connections: JdbcConnection) -> tuple[SecretFile, ...]:
    """The PostgreSQL trust anchor(s) the catalogs' JDBC URLs name, one file per path."""
    found: dict[str, pulumi.Output[str]] = {}
    for connection in connections:
        if connection.ca_certificate is not None:
            found.setdefault(connection.ca_file, connection.ca_certificate)
    return tuple(SecretFile(path=path, content=ca) for path, ca in found.items())


def kafka_client_files(stream: StreamConnection) -> tuple[SecretFile, ...]:
    """Trino's Kafka client properties (its SCRAM password inside) and the brokers' CA, as
    secret files: what both the `kafka` catalog and the audit listener log in with."""
    has_ca = stream.ca_certificate is not None
    password = stream.password if stream.password is not None else pulumi.Output.from_input("")
    client = password.apply(
        lambda secret: render_kafka_client(
            KafkaClient(
                security_protocol=stream.security_protocol,
                sasl_mechanism=stream.sasl_mechanism,
                user=stream.user,
                password=secret,
                ca_file=KAFKA_CA_FILE if has_ca else None,
            )
        )
    )
    files = (SecretFile(path=KAFKA_CLIENT_FILE, content=pulumi.Output.secret(client)),)
    if stream.ca_certificate is not None:
        files += (SecretFile(path=KAFKA_CA_FILE, content=stream.ca_certificate),)
    return files


def kafka_catalog_file(settings: TrinoSettings, stream: StreamConnection) -> ConfigFile | None:
    """The `kafka` catalog over the topics the stack exposes (None: no such catalog)."""
    if settings.kafka_catalog is None:
        return None
    return ConfigFile(
        path=KAFKA_CATALOG_FILE,
        content=render_kafka_catalog(
            bootstrap_servers=stream.bootstrap_servers, topics=settings.kafka_catalog.topics
        ),
    )


def listener_files(
    settings: TrinoSettings,
    *,
    trino_uri: str,
    lineage: LineageConnection | None,
    stream: StreamConnection | None,
) -> tuple[ConfigFile, ...]:
    """The coordinator's event listener files (no secrets: the Kafka login is the client
    file's): OpenLineage where lineage is on, the Kafka audit listener where the stack
    names an audit topic."""
    files: tuple[ConfigFile, ...] = ()
    if lineage is not None:
        content = render_openlineage_listener(
            trino_uri=trino_uri, lineage_url=lineage.url, namespace=lineage.namespace
        )
        files += (ConfigFile(path=OPENLINEAGE_LISTENER_FILE, content=content),)
    if settings.query_audit is not None and stream is not None:
        content = render_kafka_event_listener(
            bootstrap_servers=stream.bootstrap_servers, topic=settings.query_audit.topic
        )
        files += (ConfigFile(path=KAFKA_LISTENER_FILE, content=content),)
    return files


def node_files(
    stack: StackSettings, settings: TrinoSettings, node: NodeSettings, *, trust_s3: bool
) -> tuple[ConfigFile, ...]:
    """The files every node reads: `node.properties`, `jvm.config` and `log.properties`."""
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


def node_workload(
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
        startup=_health_probe(initial_delay_seconds=10, period_seconds=5, failure_threshold=60),
        readiness=_health_probe(initial_delay_seconds=0, period_seconds=10, failure_threshold=3),
        liveness=_health_probe(initial_delay_seconds=0, period_seconds=20),
        pre_stop=graceful_shutdown_command() if drains else (),
        termination_grace_period_seconds=(termination_grace_seconds(settings) if drains else None),
        security=SecurityProfile(
            run_as_user=settings.run_as_user,
            run_as_group=settings.run_as_user,
            fs_group=settings.run_as_user,
        ),
        replicas=replicas,
    )


def _health_probe(
    *, initial_delay_seconds: int, period_seconds: int, failure_threshold: int = 6
) -> Probe:
    """The image's health check as a probe (Kubernetes exec, Docker HEALTHCHECK); seconds."""
    return Probe(
        port=HTTP_PORT,
        path="/v1/info",
        exec_command=(HEALTH_CHECK,),
        initial_delay_seconds=initial_delay_seconds,
        period_seconds=period_seconds,
        failure_threshold=failure_threshold,
    )


def coordinator_files(
    stack: StackSettings, settings: TrinoSettings, *, trust_s3: bool
) -> tuple[ConfigFile, ...]:
    """The coordinator's plain files: its node files, access control, rules and groups,
    and the password authenticator where passwords are on (not `config.properties`,
    which the component adds as plain or secret file)."""
    password = settings.authentication is Authentication.PASSWORD
    return (
        *node_files(stack, settings, settings.coordinator, trust_s3=trust_s3),
        ConfigFile(
            path=f"{CONFIG_DIR}/access-control.properties",
            content=render_access_control(settings),
        ),
        ConfigFile(path=f"{CONFIG_DIR}/rules.json", content=render_rules_json(settings.access)),
        ConfigFile(path=f"{CONFIG_DIR}/group-provider.properties", content=render_group_provider()),
        ConfigFile(path=f"{CONFIG_DIR}/group.txt", content=render_group_file(settings.access)),
        *(
            (
                ConfigFile(
                    path=f"{CONFIG_DIR}/password-authenticator.properties",
                    content=render_password_authenticator(),
                ),
            )
            if password
            else ()
        ),
    )


def coordinator_ports(settings: TrinoSettings) -> tuple[Port, ...]:
    """HTTP (internal) and, with TLS, HTTPS; the admin host port goes to the port clients
    use (HTTPS when TLS is on)."""
    admin_on_https = settings.tls
    http = Port(
        name="http",
        container_port=HTTP_PORT,
        admin_host_port=None if admin_on_https else settings.admin_host_port,
    )
    if not settings.tls:
        return (http,)
    return (
        http,
        Port(name="https", container_port=HTTPS_PORT, admin_host_port=settings.admin_host_port),
    )
