"""Kafka's files, rendered from `KafkaSettings` by pure functions (no Pulumi, no I/O).

- `server_properties`: one node's `server.properties` (KRaft roles, static controller
  quorum, listeners and advertised listeners on stable per-pod host names, listener
  security, SCRAM server-side JAAS, TLS from PEM files, authorizer, durability keys).
- `client_properties`: a Java client's properties for the admin user (a secret file:
  it carries the password).
- `scram_credential`: the `kafka-storage format --add-scram` argument that bootstraps the
  admin user into the metadata log (a secret).
- `topic_specs`: each declared topic as name, partitions, replication factor and the
  topic config map an admin client (or the pulumi-kafka provider) applies.

Files are written with `javaproperties` (escaping per `java.util.Properties`), sorted and
without a timestamp, so renders are deterministic.

Upstream: kafka.apache.org/documentation (KRaft configuration, "Authentication using
SASL/SCRAM", "Encryption and Authentication using SSL", "Authorization and ACLs";
PEM key stores: KIP-651).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import javaproperties

from components.kafka.settings import (
    ClientAuthentication,
    KafkaMode,
    KafkaSettings,
    NodePoolSettings,
)

CLIENT = "CLIENT"  # clients and Trino; the only listener outside the cluster's own network
INTERNAL = "INTERNAL"  # broker-to-broker replication
CONTROLLER = "CONTROLLER"  # KRaft quorum and broker-to-controller traffic
ADMIN = "ADMIN"  # the topic provider, from where `pulumi up` runs (docs/kafka.md)
CONTROLLER_ID_BASE = 1000  # separated controllers get 1000, 1001, ...: never a broker's id
SCRAM_MECHANISM = "SCRAM-SHA-512"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# A certificate's subject (RFC 2253, e.g. `O=dataplatform,CN=kafka-node`: the CN may come
# anywhere) becomes principal `User:kafka-node`, which `super.users` names.
PRINCIPAL_MAPPING = "RULE:^(.*,)?CN=([^,]+)(,.*)?$/$2/,DEFAULT"


@dataclass(frozen=True)
class NodeAddress:
    """Where one node is reached: its KRaft node id, stable host name and listener ports.

    A broker with an ADMIN listener binds `admin_port` and advertises `admin_advertised`
    (`host:port` as the operator's machine reaches it, which may be a published or load
    balancer port, not `admin_port`).
    """

    node_id: int
    host: str
    client_port: int
    internal_port: int
    controller_port: int
    admin_port: int | None = None
    admin_advertised: str | None = None


@dataclass(frozen=True)
class ClusterLayout:
    """Every node of one cluster: brokers (combined nodes too) and quorum voters."""

    brokers: tuple[NodeAddress, ...]
    controllers: tuple[NodeAddress, ...]
    bind_host: str = "0.0.0.0"  # what `listeners` bind; advertised names come from NodeAddress

    def node(self, node_id: int) -> NodeAddress:
        """The node with `node_id`; `KeyError` if the layout has none."""
        for address in (*self.brokers, *self.controllers):
            if address.node_id == node_id:
                return address
        raise KeyError(f"no Kafka node {node_id} in this layout")

    @property
    def node_ids(self) -> tuple[int, ...]:
        """Every node id once, brokers first."""
        ids = [a.node_id for a in self.brokers]
        return (*ids, *(a.node_id for a in self.controllers if a.node_id not in ids))


@dataclass(frozen=True)
class KafkaPaths:
    """Where a node finds its data volume and TLS files (PEM: KIP-651)."""

    data_dir: str = "/var/lib/kafka/data"
    keystore: str = "/etc/kafka/tls/node-keystore.pem"  # private key + certificate chain
    truststore: str = "/etc/kafka/tls/ca.crt"


@dataclass(frozen=True)
class TopicSpec:
    """One topic as an admin client creates it: `config` is Kafka's topic config map."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict[str, str])


def cluster_layout(
    settings: KafkaSettings,
    *,
    broker_host: Callable[[int], str],
    controller_host: Callable[[int], str],
    admin_advertised: Callable[[int], str] | None = None,
) -> ClusterLayout:
    """Node ids and addresses: brokers 0..n-1; separated controllers 1000..; settings' ports.

    `broker_host(ordinal)` / `controller_host(ordinal)` give the stable per-pod DNS name
    (a StatefulSet pod under its headless Service, or a Docker container name). Combined
    nodes are brokers and voters at once and use `broker_host`. With
    `admin_advertised(ordinal)` (`host:port`) every broker also gets the ADMIN listener.
    """
    ports = settings.listeners

    def address(node_id: int, host: str) -> NodeAddress:
        return NodeAddress(
            node_id, host, ports.client_port, ports.internal_port, ports.controller_port
        )

    def broker(ordinal: int) -> NodeAddress:
        plain = address(ordinal, broker_host(ordinal))
        if admin_advertised is None:
            return plain
        return replace(
            plain, admin_port=ports.admin_port, admin_advertised=admin_advertised(ordinal)
        )

    brokers = tuple(broker(i) for i in range(settings.broker_count))
    if settings.mode is KafkaMode.COMBINED:
        return ClusterLayout(brokers=brokers, controllers=brokers)
    controllers = tuple(
        address(CONTROLLER_ID_BASE + i, controller_host(i))
        for i in range(settings.controller_count)
    )
    return ClusterLayout(brokers=brokers, controllers=controllers)


def security_protocols(settings: KafkaSettings) -> dict[str, str]:
    """`listener.security.protocol.map` entries: node-to-node listeners use mutual TLS;
    ADMIN uses SCRAM (over TLS where `tls` is on) whenever clients authenticate."""
    listeners = settings.listeners
    node_protocol = "SSL" if listeners.tls else "PLAINTEXT"
    client = {
        (ClientAuthentication.NONE, False): "PLAINTEXT",
        (ClientAuthentication.NONE, True): "SSL",
        (ClientAuthentication.SCRAM_SHA_512, False): "SASL_PLAINTEXT",
        (ClientAuthentication.SCRAM_SHA_512, True): "SASL_SSL",
        (ClientAuthentication.MTLS, True): "SSL",
    }[(listeners.client_authentication, listeners.tls)]
    admin = {
        (False, False): "PLAINTEXT",
        (False, True): "SSL",
        (True, False): "SASL_PLAINTEXT",
        (True, True): "SASL_SSL",
    }[(listeners.authenticated, listeners.tls)]
    return {CLIENT: client, INTERNAL: node_protocol, CONTROLLER: node_protocol, ADMIN: admin}


def admin_uses_scram(settings: KafkaSettings) -> bool:
    """True when the admin user authenticates with SCRAM (bootstrapped by `--add-scram`)."""
    return settings.listeners.authenticated


def server_properties(
    settings: KafkaSettings,
    layout: ClusterLayout,
    node_id: int,
    paths: KafkaPaths = KafkaPaths(),
) -> str:
    """`server.properties` of node `node_id` in `layout` (no secrets: keys stay in files)."""
    props = _identity(settings, layout, node_id, paths)
    props |= _durability(settings, controller=node_id in {a.node_id for a in layout.controllers})
    props |= _security(settings, paths)
    return _dump(props)


def _identity(
    settings: KafkaSettings, layout: ClusterLayout, node_id: int, paths: KafkaPaths
) -> dict[str, str]:
    me = layout.node(node_id)
    broker = any(a.node_id == node_id for a in layout.brokers)
    controller = any(a.node_id == node_id for a in layout.controllers)
    bind = layout.bind_host
    listeners: list[str] = []
    advertised: list[str] = []
    if broker:
        listeners += [
            f"{CLIENT}://{bind}:{me.client_port}",
            f"{INTERNAL}://{bind}:{me.internal_port}",
        ]
        advertised += [
            f"{CLIENT}://{me.host}:{me.client_port}",
            f"{INTERNAL}://{me.host}:{me.internal_port}",
        ]
        if me.admin_port is not None and me.admin_advertised is not None:
            listeners.append(f"{ADMIN}://{bind}:{me.admin_port}")
            advertised.append(f"{ADMIN}://{me.admin_advertised}")
    if controller:
        listeners.append(f"{CONTROLLER}://{bind}:{me.controller_port}")
    protocols = security_protocols(settings)
    props = {
        "node.id": str(node_id),
        "process.roles": ",".join(
            r for r, on in (("broker", broker), ("controller", controller)) if on
        ),
        # A fixed-size quorum of StatefulSet pods: static voters need no directory ids at
        # format time (the dynamic `controller.quorum.bootstrap.servers` form does).
        "controller.quorum.voters": ",".join(
            f"{a.node_id}@{a.host}:{a.controller_port}" for a in layout.controllers
        ),
        "controller.listener.names": CONTROLLER,
        "listeners": ",".join(listeners),
        "listener.security.protocol.map": ",".join(f"{k}:{v}" for k, v in protocols.items()),
        "log.dirs": paths.data_dir,
        "auto.create.topics.enable": str(settings.auto_create_topics).lower(),
    }
    if broker:
        props["advertised.listeners"] = ",".join(advertised)
        props["inter.broker.listener.name"] = INTERNAL
    return props


def _durability(settings: KafkaSettings, *, controller: bool) -> dict[str, str]:
    d = settings.durability
    # Controllers create topics, so they apply the default factor (Kafka 4 warns when a
    # broker-only node sets it and will ignore it there in 5.0).
    creation = {"default.replication.factor": str(d.default_replication_factor)}
    return (creation if controller else {}) | {
        "min.insync.replicas": str(d.min_insync_replicas),
        "unclean.leader.election.enable": str(d.unclean_leader_election).lower(),
        "offsets.topic.replication.factor": str(d.offsets_topic_replication_factor),
        "transaction.state.log.replication.factor": str(d.transaction_state_log_replication_factor),
        "transaction.state.log.min.isr": str(d.transaction_state_log_min_isr),
        # Share groups' internal topic (KIP-932) follows the offsets topic.
        "share.coordinator.state.topic.replication.factor": str(d.offsets_topic_replication_factor),
        "share.coordinator.state.topic.min.isr": str(
            min(d.min_insync_replicas, d.offsets_topic_replication_factor)
        ),
    }


def _security(settings: KafkaSettings, paths: KafkaPaths) -> dict[str, str]:
    listeners = settings.listeners
    props: dict[str, str] = {}
    # Server side of SCRAM: credentials live in the metadata log, so no user here.
    server_jaas = f"{SCRAM_LOGIN_MODULE} required;"
    if listeners.authenticated:
        props["sasl.enabled.mechanisms"] = SCRAM_MECHANISM
        props[f"listener.name.{ADMIN.lower()}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"] = (
            server_jaas
        )
    if listeners.client_authentication is ClientAuthentication.SCRAM_SHA_512:
        props[f"listener.name.{CLIENT.lower()}.{SCRAM_MECHANISM.lower()}.sasl.jaas.config"] = (
            server_jaas
        )
    if listeners.tls:
        client_auth = (
            "required" if listeners.client_authentication is ClientAuthentication.MTLS else "none"
        )
        props |= {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": paths.keystore,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": paths.truststore,
            "ssl.principal.mapping.rules": PRINCIPAL_MAPPING,
            "ssl.endpoint.identification.algorithm": "https",
            f"listener.name.{CLIENT.lower()}.ssl.client.auth": client_auth,
            f"listener.name.{ADMIN.lower()}.ssl.client.auth": "none",
            f"listener.name.{INTERNAL.lower()}.ssl.client.auth": "required",
            f"listener.name.{CONTROLLER.lower()}.ssl.client.auth": "required",
        }
    if listeners.client_authentication is not ClientAuthentication.NONE:
        props |= {
            "authorizer.class.name": AUTHORIZER,
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{settings.admin_user};User:{settings.node_principal}",
        }
    return props


def client_properties(
    settings: KafkaSettings,
    *,
    bootstrap_servers: str,
    password: str | None = None,
    paths: KafkaPaths = KafkaPaths(),
) -> str:
    """A Java client's properties for the admin user (secret: carries `password` for SCRAM).

    Raises `ValueError` when SCRAM is on and no password is given.
    """
    protocol = security_protocols(settings)[CLIENT]
    props = {"bootstrap.servers": bootstrap_servers, "security.protocol": protocol}
    if settings.listeners.client_authentication is ClientAuthentication.SCRAM_SHA_512:
        if password is None:
            raise ValueError("SCRAM client properties need the admin user's password")
        props |= {
            "sasl.mechanism": SCRAM_MECHANISM,
            "sasl.jaas.config": (
                f'{SCRAM_LOGIN_MODULE} required username="{settings.admin_user}" '
                f'password="{_jaas_quoted(password)}";'
            ),
        }
    if settings.listeners.tls:
        props |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": paths.truststore}
        if settings.listeners.client_authentication is ClientAuthentication.MTLS:
            props |= {"ssl.keystore.type": "PEM", "ssl.keystore.location": paths.keystore}
    return _dump(props)


def scram_credential(user: str, password: str) -> str:
    """`kafka-storage format --add-scram` argument creating `user` (a secret: the password).

    Raises `ValueError` for a password with `"`, `]` or `,`, which the argument's
    bracketed `key=value` syntax cannot carry.
    """
    if any(c in password for c in '"],') or not password:
        raise ValueError("SCRAM bootstrap passwords must be non-empty without '\"', ']' or ','")
    return f'{SCRAM_MECHANISM}=[name={user},password="{password}"]'


def topic_specs(settings: KafkaSettings) -> tuple[TopicSpec, ...]:
    """Each declared topic with its effective replication and config map, in declared order."""
    specs = []
    for topic in settings.topics:
        config = {
            "cleanup.policy": topic.cleanup_policy.value,
            "retention.ms": str(topic.retention_ms),
            "retention.bytes": str(topic.retention_bytes),
            "min.insync.replicas": str(settings.min_insync_replicas(topic)),
        }
        specs.append(
            TopicSpec(topic.name, topic.partitions, settings.replication_factor(topic), config)
        )
    return tuple(specs)


def heap_options(pool: NodePoolSettings) -> str:
    """`KAFKA_HEAP_OPTS` for a node of `pool`: a fixed heap (no resizing under load)."""
    return f"-Xms{pool.heap_megabytes}m -Xmx{pool.heap_megabytes}m"


def _jaas_quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _dump(props: dict[str, str]) -> str:
    return javaproperties.dumps(props, timestamp=False, sort_keys=True)
