"""The `Trino` component: one SQL endpoint over the lake (Iceberg on MinIO) and the
warehouse (PostgreSQL).

Creates a coordinator workload and, where the stack asks for them, a worker workload
(both stateless; `workloads.py`) with the files `files.py` renders. Where the stack asks
for authentication: one generated password per user with its bcrypt hash in a secret
password file, a generated TLS certificate (secret PEM keystore) and a generated
internal-communication shared secret. Options set on the component (protect,
retain_on_delete, providers, aliases) flow to every child; its `depends_on` does not:
the pods wait for exactly their logins (`start_after`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.common import image_version
from components.options import flowing_options
from components.runtime.base import DeployedWorkload, Runtime
from components.runtime.stack import StackSettings
from components.runtime.workload import (
    ConfigFile,
    Connection,
    Endpoint,
    Port,
    SecretFile,
    WorkloadIdentity,
)
from components.secrets import generated_password
from components.tls import generated_certificate, pem_bundle
from components.trino.connections import (
    JdbcConnection,
    LineageConnection,
    S3Connection,
    StreamConnection,
)
from components.trino.files import (
    CONFIG_DIR,
    HTTP_PORT,
    HTTPS_PORT,
    S3_CA_FILE,
    render_coordinator_config,
    render_worker_config,
)
from components.trino.settings import Authentication, TrinoSettings, WorkerSettings
from components.trino.workloads import (
    catalog_files,
    coordinator_files,
    coordinator_ports,
    kafka_catalog_file,
    kafka_client_files,
    listener_files,
    node_files,
    node_workload,
)

SERVICE = "trino"


@dataclass(frozen=True, kw_only=True)
class _Cluster:
    """What both tiers of one Trino share: identities, discovery, catalogs and peers."""

    stack: StackSettings
    settings: TrinoSettings
    coordinator: WorkloadIdentity
    worker: WorkloadIdentity
    coordinator_host: str
    catalogs: tuple[SecretFile, ...]
    data_peers: tuple[Connection, ...]
    trust_s3: bool
    streams: _Streams

    @property
    def discovery_uri(self) -> str:
        """Where workers (and the coordinator itself) find the coordinator."""
        return f"http://{self.coordinator_host}:{HTTP_PORT}"


@dataclass(frozen=True, kw_only=True)
class _Streams:
    """Lineage and Kafka: what every node reads (the `kafka` catalog with its client
    files), and what only the coordinator does (event listeners, the audit client)."""

    catalog_configs: tuple[ConfigFile, ...] = ()
    catalog_secrets: tuple[SecretFile, ...] = ()
    catalog_peers: tuple[Connection, ...] = ()
    listeners: tuple[ConfigFile, ...] = ()
    coordinator_secrets: tuple[SecretFile, ...] = ()
    coordinator_peers: tuple[Connection, ...] = ()

    @classmethod
    def of(
        cls,
        settings: TrinoSettings,
        *,
        trino_uri: str,
        lineage: LineageConnection | None,
        stream: StreamConnection | None,
    ) -> _Streams:
        """Files and peers for `settings`' lineage, `kafka` catalog and query audit."""
        listeners = listener_files(settings, trino_uri=trino_uri, lineage=lineage, stream=stream)
        lineage_peers = (lineage.peer,) if lineage is not None else ()
        if stream is None:
            return cls(listeners=listeners, coordinator_peers=lineage_peers)
        client = kafka_client_files(stream)
        catalog = kafka_catalog_file(settings, stream)
        if catalog is not None:  # every node reads the topics; the coordinator audits too
            return cls(
                catalog_configs=(catalog,),
                catalog_secrets=client,
                catalog_peers=(stream.peer,),
                listeners=listeners,
                coordinator_peers=lineage_peers,
            )
        return cls(
            listeners=listeners,
            coordinator_secrets=client if settings.query_audit else (),
            coordinator_peers=(*lineage_peers, *((stream.peer,) if settings.query_audit else ())),
        )


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
        lineage: LineageConnection | None = None,
        stream: StreamConnection | None = None,
        start_after: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`lineage` turns on the OpenLineage listener; `stream` (Kafka as Trino's own
        principal) the `kafka` catalog and the query-audit listener, as `settings` ask."""
        super().__init__("dataplatform:query:Trino", name, None, flowing_options(opts))
        self._name, self._settings, self._runtime = name, settings, runtime
        self._start_after = tuple(start_after)
        self._lineage, self._stream = lineage, stream
        cluster = self._cluster(stack, s3, warehouse_dir, iceberg, warehouse)
        shared_secret = self._shared_secret()
        self.user_passwords = {}
        coordinator = self._deploy_coordinator(cluster, shared_secret)
        self.internal_endpoint = coordinator.endpoint("http")
        self.endpoint = (
            Endpoint(host=cluster.coordinator_host, port=HTTPS_PORT, scheme="https")
            if settings.tls
            else self.internal_endpoint
        )
        self.workers = settings.workers.replicas if settings.workers else 0
        if settings.workers:
            assert shared_secret is not None  # workers imply a shared secret (needs_secret)
            self._deploy_workers(cluster, settings.workers, shared_secret)
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

    def _shared_secret(self) -> pulumi.Output[str] | None:
        """`internal-communication.shared-secret`, generated where nodes must prove who they
        are to each other: with workers, or with authentication on (Trino requires it)."""
        settings = self._settings
        if settings.workers is None and settings.authentication is not Authentication.PASSWORD:
            return None
        return generated_password(f"{self._name}-internal-shared-secret", parent=self, length=64)

    def _cluster(
        self,
        stack: StackSettings,
        s3: S3Connection,
        warehouse_dir: str,
        iceberg: JdbcConnection,
        warehouse: JdbcConnection,
    ) -> _Cluster:
        """Identities, the coordinator's host, the catalogs (with the S3 endpoint's
        certificate when it has its own) and the peers both tiers open."""
        settings = self._settings
        version = image_version(settings.image)
        coordinator = WorkloadIdentity(service=SERVICE, component="coordinator", version=version)
        catalogs = catalog_files(
            s3=s3,
            warehouse_dir=warehouse_dir,
            iceberg=iceberg,
            warehouse=warehouse,
            region=settings.s3_region,
        )
        if s3.ca_certificate is not None:
            # Both tiers read S3: the endpoint's certificate travels with the catalogs.
            catalogs += (SecretFile(path=S3_CA_FILE, content=s3.ca_certificate),)
        host = self._runtime.internal_host(coordinator)
        streams = _Streams.of(
            settings,
            trino_uri=f"http://{host}:{HTTP_PORT}",
            lineage=self._lineage,
            stream=self._stream,
        )
        return _Cluster(
            stack=stack,
            settings=settings,
            coordinator=coordinator,
            worker=WorkloadIdentity(service=SERVICE, component="worker", version=version),
            coordinator_host=host,
            catalogs=(*catalogs, *streams.catalog_secrets),
            data_peers=_unique((s3.peer, iceberg.peer, warehouse.peer, *streams.catalog_peers)),
            trust_s3=s3.ca_certificate is not None,
            streams=streams,
        )

    def _deploy_coordinator(
        self, cluster: _Cluster, shared_secret: pulumi.Output[str] | None
    ) -> DeployedWorkload:
        """The coordinator: access control, users, TLS; `config.properties` is a secret
        file when it carries the shared secret."""
        settings, streams = cluster.settings, cluster.streams
        files = (
            *coordinator_files(cluster.stack, settings, trust_s3=cluster.trust_s3),
            *streams.catalog_configs,
            *streams.listeners,
        )
        secret_files = (*self._security_files(cluster), *streams.coordinator_secrets)
        listeners = tuple(f.path for f in streams.listeners)
        config = _secret_render(
            shared_secret,
            lambda secret: render_coordinator_config(
                settings,
                discovery_uri=cluster.discovery_uri,
                shared_secret=secret,
                event_listeners=listeners,
            ),
        )
        config_path = f"{CONFIG_DIR}/config.properties"
        if isinstance(config, str):
            files += (ConfigFile(path=config_path, content=config),)
        else:
            secret_files += (SecretFile(path=config_path, content=config),)
        peers = (*cluster.data_peers, *streams.coordinator_peers)
        if settings.workers:
            peers += (Connection(service=SERVICE, component="worker", port=HTTP_PORT),)
        workload = node_workload(
            settings,
            cluster.coordinator,
            settings.coordinator,
            replicas=1,
            ports=coordinator_ports(settings),
            files=files,
            secret_files=(*secret_files, *cluster.catalogs),
            connections=peers,
            trust_s3=cluster.trust_s3,
        )
        return self._runtime.deploy(workload, parent=self, after=self._start_after)

    def _deploy_workers(
        self, cluster: _Cluster, worker: WorkerSettings, shared_secret: pulumi.Output[str]
    ) -> DeployedWorkload:
        """The workers: the coordinator's catalogs, their own config, and a drain on stop."""
        settings = cluster.settings
        config = shared_secret.apply(
            lambda secret: render_worker_config(
                settings, worker, discovery_uri=cluster.discovery_uri, shared_secret=secret
            )
        )
        config_file = SecretFile(
            path=f"{CONFIG_DIR}/config.properties", content=pulumi.Output.secret(config)
        )
        workload = node_workload(
            settings,
            cluster.worker,
            worker,
            replicas=worker.replicas,
            ports=(Port(name="http", container_port=HTTP_PORT),),
            files=(
                *node_files(cluster.stack, settings, worker, trust_s3=cluster.trust_s3),
                *cluster.streams.catalog_configs,
            ),
            secret_files=(config_file, *cluster.catalogs),
            connections=(
                *cluster.data_peers,
                Connection(service=SERVICE, component="coordinator", port=HTTP_PORT),
            ),
            trust_s3=cluster.trust_s3,
            drains=True,
        )
        return self._runtime.deploy(workload, parent=self, after=self._start_after)

    def _security_files(self, cluster: _Cluster) -> tuple[SecretFile, ...]:
        """The password file (passwords on) and the TLS keystore (TLS on), as secrets."""
        files: tuple[SecretFile, ...] = ()
        if self._settings.authentication is Authentication.PASSWORD:
            files += (SecretFile(path=f"{CONFIG_DIR}/password.db", content=self._password_file()),)
        if self._settings.tls:
            files += (SecretFile(path=f"{CONFIG_DIR}/server.pem", content=self._keystore(cluster)),)
        return files

    def _keystore(self, cluster: _Cluster) -> pulumi.Output[str]:
        """A generated certificate and its key as one PEM keystore (secret)."""
        host = cluster.coordinator_host
        certificate = generated_certificate(
            self._name,
            common_name=host,
            dns_names=[host, cluster.coordinator.base_name, "localhost"],
            parent=self,
        )
        return pem_bundle(certificate.key_pem, certificate.cert_pem)

    def _password_file(self) -> pulumi.Output[str]:
        """`user:bcrypt-hash` lines; the hashes come from RandomPassword, never from this program."""
        hashes: list[pulumi.Output[str]] = []
        users = self._settings.access.users
        for user in users:
            password = random.RandomPassword(
                f"{self._name}-user-{user}-password",
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
