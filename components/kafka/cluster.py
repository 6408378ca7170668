"""Where a cluster's nodes live on a target and what each pool runs (pure: no resources).

Names: a Kubernetes pod of a StatefulSet is `<set>-<ordinal>.<set>-headless.<namespace>
.svc.<domain>` (the runtime names a StatefulSet's governing Service `<set>-headless`,
components/runtime/kubernetes/services.py); a Docker container is reached by its
network alias. The pools: brokers (or, in the combined mode, nodes that are both) and,
in the separated mode, a controller quorum. Each pool gets its ports, its NetworkPolicy
connections (replication between brokers, the quorum between controllers, brokers to
controllers) and one rendered `server.properties` per ordinal.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.common import image_version
from components.kafka.files import ClusterLayout, cluster_layout, server_properties
from components.kafka.settings import KafkaMode, KafkaSettings
from components.kafka.workloads import BROKER, CONTROLLER, PATHS, SERVICE, PoolSpec
from components.runtime.stack import Target
from components.runtime.workload import Connection, Port, WorkloadIdentity

BROKER_GRACE_SECONDS = 120  # a controlled shutdown moves partition leadership away first
CONTROLLER_GRACE_SECONDS = 60


@dataclass(frozen=True, kw_only=True)
class Naming:
    """How the target names a pool's nodes: its kind and the runtime's internal hosts."""

    target: Target
    broker_host: str
    """`runtime.internal_host(broker identity)`: the brokers' stable client address."""
    controller_host: str

    def pod_host(self, identity: WorkloadIdentity, ordinal: int) -> str:
        """The stable name of the `ordinal`-th node of the pool `identity`."""
        host = self.broker_host if identity.component == BROKER else self.controller_host
        if self.target is Target.DOCKER:
            return host  # one node per pool: the container's alias
        domain = host.removeprefix(identity.base_name)  # `.<namespace>.svc.<cluster domain>`
        return f"{identity.name}-{ordinal}.{identity.name}-headless{domain}"

    def certificate_names(
        self, broker: WorkloadIdentity, controller: WorkloadIdentity
    ) -> list[str]:
        """Every name a node is reached by: per-pod names (wildcards), the client host."""
        names = [self.broker_host, broker.base_name, "localhost"]
        if self.target is Target.KUBERNETES:
            for identity in (broker, controller):
                domain = self.pod_host(identity, 0).split(".", 1)[1]
                names.append(f"*.{domain}")
        return names


def identities(settings: KafkaSettings) -> tuple[WorkloadIdentity, WorkloadIdentity]:
    """The broker pool's and the controller pool's identities."""
    version = image_version(settings.image)
    return (
        WorkloadIdentity(service=SERVICE, component=BROKER, version=version),
        WorkloadIdentity(service=SERVICE, component=CONTROLLER, version=version),
    )


def layout(settings: KafkaSettings, naming: Naming, *, admin_advertised: str) -> ClusterLayout:
    """The cluster's nodes on the target; every broker advertises ADMIN at `admin_advertised`."""
    broker, controller = identities(settings)
    return cluster_layout(
        settings,
        broker_host=lambda i: naming.pod_host(broker, i),
        controller_host=lambda i: naming.pod_host(controller, i),
        admin_advertised=lambda _: admin_advertised,
    )


def broker_ports(settings: KafkaSettings, *, admin_host_port: int) -> tuple[Port, ...]:
    """Client, replication and admin ports (and the quorum's, on combined nodes)."""
    listeners = settings.listeners
    ports = [
        Port(name="client", container_port=listeners.client_port),
        Port(name="internal", container_port=listeners.internal_port),
        Port(name="admin", container_port=listeners.admin_port, admin_host_port=admin_host_port),
    ]
    if settings.mode is KafkaMode.COMBINED:
        ports.append(Port(name="controller", container_port=listeners.controller_port))
    return tuple(ports)


def pool_specs(
    settings: KafkaSettings, cluster: ClusterLayout, *, admin_host_port: int
) -> tuple[PoolSpec, ...]:
    """The broker pool, then (separated mode) the controller pool."""
    broker, controller = identities(settings)
    listeners = settings.listeners
    voters = broker if settings.mode is KafkaMode.COMBINED else controller
    to_quorum = Connection(
        service=SERVICE, component=voters.component, port=listeners.controller_port
    )
    brokers = PoolSpec(
        identity=broker,
        pool=settings.brokers,
        configs={
            a.node_id: server_properties(settings, cluster, a.node_id, PATHS)
            for a in cluster.brokers
        },
        ports=broker_ports(settings, admin_host_port=admin_host_port),
        probe_port=listeners.client_port,
        # Combined nodes (dev, on Docker: no NetworkPolicies) vote on their own pool; the
        # runtime names one policy per target pool, so only replication's is declared.
        connections=(
            Connection(service=SERVICE, component=BROKER, port=listeners.internal_port),
            *(() if voters is broker else (to_quorum,)),
        ),
        classification=settings.highest_classification.value,
        grace_seconds=BROKER_GRACE_SECONDS,
    )
    if settings.mode is KafkaMode.COMBINED:
        return (brokers,)
    controllers = PoolSpec(
        identity=controller,
        pool=settings.controllers,
        configs={
            ordinal: server_properties(settings, cluster, a.node_id, PATHS)
            for ordinal, a in enumerate(cluster.controllers)
        },
        ports=(Port(name="controller", container_port=listeners.controller_port),),
        probe_port=listeners.controller_port,
        connections=(to_quorum,),
        classification="internal",  # metadata: topic names, ACLs, hashed credentials
        grace_seconds=CONTROLLER_GRACE_SECONDS,
    )
    return (brokers, controllers)
