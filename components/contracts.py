"""What services hand each other: typed peers, requirements and the access granted for them.

A *producer* (PostgreSQL, MinIO, Kafka, Marquez; later InfluxDB) exposes `Peer`s made
from its own deployed workloads and grants access to a *named consumer*. A *consumer*
declares what it requires, as data, before anything is built: a database it owns, a login
in some groups, buckets with an access level. The platform collects every consumer's
`Requirements`, hands each producer the ones addressed to it (it creates the logins,
databases, users and grants they imply), then gives each consumer the `...Access` objects
it asked for: endpoints, credentials (secret Outputs), the peer to open (network policies
follow from it) and the resources to wait for. No service or component is named by a
string outside its own module: a consumer reaches a producer only through these types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pulumi

from components.runtime.base import Runtime
from components.runtime.stack import StackSettings
from components.runtime.workload import Connection, Endpoint, WorkloadIdentity

if TYPE_CHECKING:
    from pydantic import BaseModel


@dataclass(frozen=True, kw_only=True)
class Peer:
    """One port of a producer's workload that a consumer may open.

    Made only by the producer, from the identity it deployed (`Peer.of`), so a typo cannot
    yield a NetworkPolicy that selects nothing.
    """

    service: str
    component: str
    port: int

    @classmethod
    def of(cls, identity: WorkloadIdentity, port: int) -> Peer:
        """The peer of a deployed workload's port (colour-independent)."""
        return cls(service=identity.service, component=identity.component, port=port)

    def connection(self) -> Connection:
        """The runtime's connection to this peer (NetworkPolicy egress and ingress rules)."""
        return Connection(service=self.service, component=self.component, port=self.port)


class BucketAccessLevel(StrEnum):
    """What a consumer may do in one bucket (least privilege per bucket)."""

    READ = "read"
    READ_WRITE = "read-write"
    WRITE_ONLY = "write-only"


@dataclass(frozen=True, kw_only=True)
class DatabaseNeed:
    """A database of the consumer's own, owned by a login of the same name."""

    database: str


@dataclass(frozen=True, kw_only=True)
class LoginNeed:
    """A login role for the consumer, a member of governance groups (no database of its own)."""

    login: str
    member_of: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BucketNeed:
    """Access of the consumer's object-store user to one bucket (optionally a prefix)."""

    bucket: str
    access: BucketAccessLevel
    prefix: str = ""


@dataclass(frozen=True, kw_only=True)
class StreamNeed:
    """A Kafka principal of the consumer's own, allowed to read and/or write named topics.

    Topics are the stack's declared topic names; the stream producer creates the
    principal's credential and ACLs granting exactly these operations (Kafka ACL
    semantics: READ/DESCRIBE to read, WRITE/DESCRIBE to write; reading also needs READ on
    the consumer's own group prefix).
    """

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Requirements:
    """Everything one consumer requires of the producers, declared before anything is built.

    `stream`: a Kafka principal and its topic ACLs; `lineage`: an OpenLineage endpoint to
    post run events to; `metrics`: a time-series bucket and token (InfluxDB), served when
    the stack runs a metrics producer (optional: the consumer gets None otherwise).
    """

    consumer: str
    databases: tuple[DatabaseNeed, ...] = ()
    logins: tuple[LoginNeed, ...] = ()
    buckets: tuple[BucketNeed, ...] = ()
    stream: StreamNeed | None = None
    lineage: bool = False
    metrics: bool = False

    @property
    def needs_database(self) -> bool:
        """True when a database producer must serve this consumer."""
        return bool(self.databases or self.logins)

    @property
    def needs_object_store(self) -> bool:
        """True when an object-store producer must serve this consumer."""
        return bool(self.buckets)

    @property
    def needs_stream(self) -> bool:
        """True when a stream producer (Kafka) must serve this consumer."""
        return self.stream is not None

    @property
    def needs_lineage(self) -> bool:
        """True when a lineage producer (Marquez) must serve this consumer."""
        return self.lineage


@dataclass(frozen=True, kw_only=True)
class DatabaseAccess:
    """A database and the login a consumer uses in it, as the producer granted them.

    When the server requires TLS, `ca_certificate` is the PEM its certificate is checked
    against (the trust anchor: a self-signed server certificate is its own), and every
    consumer connects with `sslmode=verify-full` and `sslrootcert=<that PEM as a file>`:
    the connection is refused unless the server proves it holds a certificate issued by
    that anchor for `endpoint.host`. `sslmode=require` would encrypt without checking
    who answers (https://www.postgresql.org/docs/current/libpq-ssl.html, table
    "SSL Mode Descriptions"; pgjdbc takes the same `sslmode`/`sslrootcert` parameters,
    a PEM file included). A server that requires TLS must hand a certificate: a
    consumer could only encrypt, never verify, without one (ValueError).
    """

    peer: Peer
    endpoint: Endpoint
    database: str
    user: str
    password: pulumi.Output[str]
    require_tls: bool
    ready: tuple[pulumi.Resource, ...]
    """What the consumer's pods wait for: the login and the database."""
    ca_certificate: pulumi.Output[str] | None = None
    """PEM the server's certificate is checked against; None when the server has no TLS."""

    def __post_init__(self) -> None:
        if self.require_tls and self.ca_certificate is None:
            raise ValueError("a server that requires TLS must hand consumers its CA certificate")
        if not self.require_tls and self.ca_certificate is not None:
            raise ValueError("a CA certificate was handed for a server without TLS")

    def ssl_params(self, ca_file: str) -> dict[str, str]:
        """libpq/pgjdbc TLS parameters: `sslmode=verify-full` and `sslrootcert=ca_file`
        (where the consumer mounts `ca_certificate`) with TLS, else `sslmode=disable`."""
        if self.ca_certificate is None:
            return {"sslmode": "disable"}
        return {"sslmode": "verify-full", "sslrootcert": ca_file}


@dataclass(frozen=True, kw_only=True)
class ObjectStoreAccess:
    """An S3 endpoint, the consumer's own user and the physical names of its buckets."""

    peer: Peer
    endpoint: Endpoint
    access_key: str
    secret_key: pulumi.Output[str]
    buckets: dict[str, str]
    """Logical bucket name -> physical (per-environment) bucket name."""
    ca_certificate: pulumi.Output[str] | None
    """PEM the endpoint's certificate is checked against (HTTPS with a generated one)."""
    ready: tuple[pulumi.Resource, ...]


@dataclass(frozen=True, kw_only=True)
class StreamAccess:
    """Kafka bootstrap servers and the consumer's own principal, as the producer granted them.

    `security_protocol` is the client's `security.protocol` (`SASL_SSL`,
    `SASL_PLAINTEXT` or `PLAINTEXT` in dev); `sasl_mechanism` is `SCRAM-SHA-512` when SASL
    is on, else None; `password` is a secret Output (None without SASL); `ca_certificate`
    is the PEM the brokers' certificate is checked against (None without TLS).
    """

    peer: Peer
    bootstrap_servers: tuple[str, ...]
    security_protocol: str
    sasl_mechanism: str | None
    user: str
    password: pulumi.Output[str] | None
    ca_certificate: pulumi.Output[str] | None
    ready: tuple[pulumi.Resource, ...]
    """What the consumer's pods wait for: its credential and ACLs."""

    @property
    def bootstrap(self) -> str:
        """`host:port,host:port`: Kafka's `bootstrap.servers` value."""
        return ",".join(self.bootstrap_servers)


@dataclass(frozen=True, kw_only=True)
class LineageAccess:
    """Where a consumer posts OpenLineage run events, and the namespace it posts them under.

    `endpoint.url` is the base URL of an OpenLineage HTTP API (Marquez: events are POSTed
    to `/api/v1/lineage`); `namespace` is per stack, so lineage of dev never mixes with prod.
    https://openlineage.io/docs/client/python#http-transport
    """

    peer: Peer
    endpoint: Endpoint
    namespace: str
    ready: tuple[pulumi.Resource, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MetricsAccess:
    """A time-series database's write endpoint, org, bucket and token (InfluxDB v2 terms)."""

    peer: Peer
    endpoint: Endpoint
    org: str
    bucket: str
    token: pulumi.Output[str]
    ready: tuple[pulumi.Resource, ...] = ()


@runtime_checkable
class DatabaseProducer(Protocol):
    """A service that creates databases and logins for consumers (PostgreSQL)."""

    def database_access(self, consumer: str, *, database: str, login: str) -> DatabaseAccess:
        """Access of `consumer` to `database` as `login` (both from its requirements)."""
        ...

    def sql_job(
        self, job: str, *, database: str, login: str, statements: Sequence[str]
    ) -> pulumi.Resource:
        """Run idempotent SQL once per change, as `login` in `database`."""
        ...


@runtime_checkable
class ObjectStoreProducer(Protocol):
    """A service that creates buckets' users and grants for consumers (MinIO)."""

    def object_store_access(self, consumer: str) -> ObjectStoreAccess:
        """The consumer's user, its buckets and where to reach them."""
        ...


@runtime_checkable
class StreamProducer(Protocol):
    """A service that creates principals and topic ACLs for consumers (Kafka)."""

    def stream_access(self, consumer: str) -> StreamAccess:
        """The consumer's principal, its ACLs and the bootstrap servers."""
        ...


@runtime_checkable
class LineageProducer(Protocol):
    """A service that receives OpenLineage events (Marquez)."""

    def lineage_access(self, consumer: str) -> LineageAccess:
        """The endpoint and namespace `consumer` posts lineage to."""
        ...


@runtime_checkable
class MetricsProducer(Protocol):
    """A service that stores metrics for consumers (InfluxDB; not built yet: the seam)."""

    def metrics_access(self, consumer: str) -> MetricsAccess:
        """The consumer's bucket and write token."""
        ...


@dataclass(kw_only=True)
class ServiceContext:
    """What a service's `build` gets: the stack, the runtime and the producers built so far."""

    stack: StackSettings
    runtime: Runtime
    parent: pulumi.Resource
    requirements: Sequence[Requirements]
    """Every consumer's requirements in this stack (producers serve those addressed to them)."""
    admin: Mapping[str, Any] = field(default_factory=dict)
    """Fixed admin addresses by service name (`AdminEndpoint`; absent: the runtime's way in)."""
    producers: list[object] = field(default_factory=list)

    def resource_name(self, service: str) -> str:
        """`<stack-prefix>-<service>`: the logical name of a service's component."""
        return f"{self.stack.prefix}-{service}"

    def options(self) -> pulumi.ResourceOptions:
        """Options of a service component: parented under the platform."""
        return pulumi.ResourceOptions(parent=self.parent)

    def producer(self, kind: type[Any]) -> Any:
        """The built producer implementing `kind` (a Protocol above); LookupError if none."""
        for candidate in self.producers:
            if isinstance(candidate, kind):
                return candidate
        raise LookupError(f"no service in this stack produces {kind.__name__}")

    def optional_producer(self, kind: type[Any]) -> Any | None:
        """The built producer implementing `kind`, or None when the stack runs none."""
        try:
            return self.producer(kind)
        except LookupError:
            return None

    def stream(self) -> StreamProducer:
        """The stack's stream producer (Kafka)."""
        return self.producer(StreamProducer)

    def lineage(self) -> LineageProducer:
        """The stack's lineage producer (Marquez)."""
        return self.producer(LineageProducer)

    def metrics(self) -> MetricsProducer | None:
        """The stack's metrics producer, or None (the seam InfluxDB will fill)."""
        return self.optional_producer(MetricsProducer)

    def database(self) -> DatabaseProducer:
        """The stack's database producer."""
        return self.producer(DatabaseProducer)

    def object_store(self) -> ObjectStoreProducer:
        """The stack's object-store producer."""
        return self.producer(ObjectStoreProducer)


@dataclass(frozen=True, kw_only=True)
class Service:
    """One registry entry: how a service is stamped from its config section.

    `section` names the `PlatformConfig` attribute holding its settings (None: the service
    is absent from the stack). `requirements` derives what it needs from the producers,
    purely from its settings (so config checks and producers can see it first); `build`
    declares the component; `produces` says which producer protocols it implements, so
    config checks can tell whether a consumer's requirement has a producer in the stack;
    `calls_cluster_api` says its workloads call the Kubernetes API (so a Kubernetes stack
    must say where the API server is, or its NetworkPolicies would block those calls).
    """

    name: str
    section: str
    build: Callable[[ServiceContext, BaseModel], pulumi.ComponentResource]
    requirements: Callable[[BaseModel], Requirements] | None = None
    produces: tuple[type[Any], ...] = ()
    calls_cluster_api: bool = False


def requirement_problems(
    services: Sequence[Service], settings: dict[str, BaseModel | None]
) -> list[str]:
    """Requirements of enabled services that no enabled service can serve.

    Generic: a consumer needing a database needs an enabled database producer, one
    needing buckets an enabled object-store producer, and so on. One message per missing
    producer, naming the section to add and every consumer that needs it.
    """
    enabled = [s for s in services if settings.get(s.section) is not None]
    offered = {kind for s in enabled for kind in s.produces}
    wanting: dict[type[Any], list[str]] = {}
    for service in enabled:
        section = settings[service.section]
        if service.requirements is None or section is None:
            continue
        needs = service.requirements(section)
        for wanted, kind in (
            (needs.needs_database, DatabaseProducer),
            (needs.needs_object_store, ObjectStoreProducer),
            (needs.needs_stream, StreamProducer),
            (needs.needs_lineage, LineageProducer),
        ):
            if wanted and kind not in offered:
                wanting.setdefault(kind, []).append(service.section)
    problems = []
    for kind, consumers in wanting.items():
        providers = " or ".join(s.section for s in services if kind in s.produces)
        problems.append(
            f"{' and '.join(consumers)} need{'s' if len(consumers) == 1 else ''} "
            f"{PRODUCED[kind]}, but the stack has no {providers or 'producer'} section: "
            f"add it, or turn off what needs it in {' and '.join(consumers)}"
        )
    return problems


PRODUCED: dict[type[Any], str] = {
    DatabaseProducer: "a PostgreSQL database",
    ObjectStoreProducer: "object storage",
    StreamProducer: "Kafka topics",
    LineageProducer: "a lineage endpoint (OpenLineage)",
}
"""What each producer protocol offers, in a user's words (config errors)."""
