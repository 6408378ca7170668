"""Kafka in KRaft mode: the nodes, the way in for the topic provider, topics and principals.

Creates: a cluster id generated once (`random.RandomId`, 16 bytes, URL-safe base64 as
`kafka-storage random-uuid` makes) and kept in state; outside dev the admin user's
password and the nodes' certificate; the node pools (`cluster.py`, `workloads.py`:
brokers, or combined nodes in dev, and a controller quorum); the admin address where
`pulumi up` reaches the brokers' ADMIN listener (Docker: a port published on loopback;
Kubernetes: the runtime's internal load balancer, made before the brokers because they
advertise its address, docs/kafka.md "The admin path"); a pulumi-kafka Provider on that
address as the admin user; one `KafkaTopic` per declared topic; and per consumer with a
stream need its SCRAM credential and ACLs (`declare.py`). Options set on the component
flow to every child (`components/options.py`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

import pulumi
import pulumi_kafka as kafka
import pulumi_random as random

from components.common import AdminEndpoint
from components.contracts import Peer, Requirements, StreamAccess
from components.kafka.certificates import NodeCertificate, node_certificate
from components.kafka.cluster import Naming, identities, layout, pool_specs
from components.kafka.declare import KafkaTopic, declare_principal
from components.kafka.files import (
    CLIENT,
    SCRAM_MECHANISM,
    admin_uses_scram,
    client_properties,
    scram_credential,
    security_protocols,
    topic_specs,
)
from components.kafka.settings import ClientAuthentication, KafkaSettings
from components.kafka.workloads import (
    ADMIN_HOST_TOKEN,
    NodeSecrets,
    PoolSpec,
    node_workload,
)
from components.options import flowing_options
from components.runtime.base import AdminAddress, DeployedWorkload, Runtime
from components.runtime.stack import StackSettings, Target
from components.runtime.workload import Endpoint
from components.secrets import generated_password

HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.:-]*[A-Za-z0-9])?$")


def checked_host(host: str) -> str:
    """A load balancer's address as the start script puts it in a file: a host name or an
    IP address, nothing a shell or `sed` would read as syntax. ValueError otherwise."""
    if not HOST_NAME.match(host or ""):
        raise ValueError(f"admin load balancer address {host!r} is not a host name or IP")
    return host


class Kafka(pulumi.ComponentResource):
    """A KRaft cluster, its topics as code and a principal per consumer.

    Implements `StreamProducer`: `stream_access(consumer)` hands a consumer the bootstrap
    servers, its own SCRAM credential and what to wait for (credential, ACLs, topics).
    """

    endpoint: Endpoint
    peer: Peer
    cluster_id: pulumi.Output[str]
    admin_password: pulumi.Output[str] | None
    certificate: NodeCertificate | None
    topics: dict[str, KafkaTopic]

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: KafkaSettings,
        runtime: Runtime,
        admin: AdminEndpoint | None,
        requirements: Sequence[Requirements] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:streaming:Kafka", name, None, flowing_options(opts))
        self._name, self._settings, self._runtime = name, settings, runtime
        child = pulumi.ResourceOptions(parent=self)
        broker, controller = identities(settings)
        self._naming = Naming(
            target=stack.target,
            broker_host=runtime.internal_host(broker),
            controller_host=runtime.internal_host(controller),
        )
        self.endpoint = Endpoint(
            host=self._naming.broker_host, port=settings.listeners.client_port, scheme="kafka"
        )
        self.peer = Peer.of(broker, settings.listeners.client_port)
        cluster_id = random.RandomId(f"{name}-cluster-id", byte_length=16, opts=child)
        self.cluster_id = pulumi.Output.secret(cluster_id.b64_url)
        self.admin_password = (
            generated_password(f"{name}-admin-password", parent=self)
            if admin_uses_scram(settings)
            else None
        )
        self.certificate = (
            self._certificate(stack.target, admin) if settings.listeners.tls else None
        )
        address, verified = self._deploy_nodes(admin)
        provider = self._topic_provider(address, verified=verified)
        after = address.ready
        self.topics = self._declare_topics(provider, after, protect=stack.is_prod)
        self._needs = {r.consumer: r for r in requirements if r.stream is not None}
        self._passwords: dict[str, pulumi.Output[str]] = {}
        self._granted: dict[str, list[pulumi.Resource]] = {}
        if settings.listeners.authenticated:
            self._declare_principals(provider, after)
        self.register_outputs(
            {
                "bootstrap": self.endpoint.address,
                "topics": {
                    t.name: {"classification": t.classification.value, "owner": t.owner}
                    for t in settings.topics
                },
                "principals": sorted(self._passwords),
            }
        )

    def _certificate(self, target: Target, admin: AdminEndpoint | None) -> NodeCertificate:
        """The nodes' certificate for every name they are reached by (and a fixed admin host)."""
        broker, controller = identities(self._settings)
        names = self._naming.certificate_names(broker, controller)
        if admin is not None and target is Target.KUBERNETES and not _is_ip(admin.host):
            names.append(admin.host)
        return node_certificate(
            self._name, principal=self._settings.node_principal, dns_names=names, parent=self
        )

    def _deploy_nodes(self, admin: AdminEndpoint | None) -> tuple[AdminAddress, bool]:
        """The pools, brokers advertising the admin address; that address (its `ready`
        covering every node) and whether the provider can verify the nodes' certificate
        there (its host is in the certificate)."""
        settings = self._settings
        admin_host_port = admin.port if admin else settings.listeners.admin_port
        # The way in first: the brokers advertise its address. It needs the broker pool's
        # identity and admin port only, which the draft below already has.
        draft = self._pools(f"{ADMIN_HOST_TOKEN}:0", admin_host_port)[0]
        broker_draft = node_workload(settings, draft, self._secrets(None, admin_client=False))
        address = self._runtime.control_plane_address(
            broker_draft,
            DeployedWorkload(identity=broker_draft.identity, internal={}),
            port_name="admin",
            parent=self,
            fixed_host=admin.host if admin else None,
        )
        known = isinstance(address.host, str)
        host = address.host if isinstance(address.host, str) else ADMIN_HOST_TOKEN
        admin_host = None if known else pulumi.Output.from_input(address.host).apply(checked_host)
        deployed: list[pulumi.Resource] = []
        for index, spec in enumerate(self._pools(f"{host}:{address.port}", admin_host_port)):
            secrets = self._secrets(admin_host if index == 0 else None, admin_client=index == 0)
            workload = node_workload(settings, spec, secrets)
            deployed += self._runtime.deploy(workload, parent=self).resources
        verified = (
            admin is not None
            and self._runtime.stack.target is Target.KUBERNETES
            and not _is_ip(admin.host)
        )
        ready = AdminAddress(
            host=address.host, port=address.port, ready=(*address.ready, *deployed)
        )
        return ready, verified

    def _pools(self, admin_advertised: str, admin_host_port: int) -> tuple[PoolSpec, ...]:
        cluster = layout(self._settings, self._naming, admin_advertised=admin_advertised)
        return pool_specs(self._settings, cluster, admin_host_port=admin_host_port)

    def _secrets(self, admin_host: pulumi.Output[str] | None, *, admin_client: bool) -> NodeSecrets:
        """The files every node reads; brokers also get the admin's client properties (for
        an operator's `kafka-*.sh --command-config` in the pod) and the admin host."""
        settings = self._settings
        password = self.admin_password
        client = None
        if admin_client and password is not None:
            bootstrap = self.endpoint.address
            client = pulumi.Output.secret(
                password.apply(
                    lambda p: client_properties(settings, bootstrap_servers=bootstrap, password=p)
                )
            )
        return NodeSecrets(
            cluster_id=self.cluster_id,
            scram_credential=(
                pulumi.Output.secret(
                    password.apply(lambda p: scram_credential(settings.admin_user, p))
                )
                if password is not None
                else None
            ),
            keystore_pem=self.certificate.keystore_pem if self.certificate else None,
            ca_pem=self.certificate.cert_pem if self.certificate else None,
            admin_client_properties=client,
            admin_host=admin_host,
        )

    def _topic_provider(self, address: AdminAddress, *, verified: bool) -> kafka.Provider:
        """The topic provider on the admin address, as the admin user (SCRAM where on).

        A load balancer's address is not in the nodes' certificate (it exists only once
        the deploy made it), so there the link is encrypted but the certificate is not
        checked, as for MinIO and PostgreSQL (docs/architecture.md); a fixed admin host
        on Kubernetes is in the certificate and is verified against it.
        """
        settings = self._settings
        tls = settings.listeners.tls
        scram = admin_uses_scram(settings)
        return kafka.Provider(
            f"{self._name}-provider",
            bootstrap_servers=[pulumi.Output.concat(address.host, f":{address.port}")],
            tls_enabled=tls,
            ca_cert=self.certificate.cert_pem if self.certificate else None,
            skip_tls_verify=tls and not verified,
            sasl_mechanism="scram-sha512" if scram else None,
            sasl_username=settings.admin_user if scram else None,
            sasl_password=self.admin_password if scram else None,
            timeout=120,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _declare_topics(
        self, provider: kafka.Provider, after: Sequence[pulumi.Resource], *, protect: bool
    ) -> dict[str, KafkaTopic]:
        """A `KafkaTopic` per declared topic, after the nodes and the way in."""
        settings = self._settings
        return {
            spec.name: KafkaTopic(
                f"{self._name}-topic-{spec.name}",
                spec=spec,
                declared=declared,
                provider=provider,
                after=after,
                protect=protect,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for spec, declared in zip(topic_specs(settings), settings.topics, strict=True)
        }

    def _declare_principals(
        self, provider: kafka.Provider, after: Sequence[pulumi.Resource]
    ) -> None:
        """A SCRAM credential and ACLs for every consumer with a stream need."""
        opts = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(after))
        for consumer, needs in sorted(self._needs.items()):
            assert needs.stream is not None
            password = generated_password(f"{self._name}-user-{consumer}-password", parent=self)
            self._passwords[consumer] = password
            self._granted[consumer] = declare_principal(
                self._name, consumer, needs.stream, password=password, opts=opts
            )

    def stream_access(self, consumer: str) -> StreamAccess:
        """`consumer`'s principal, bootstrap servers and what to wait for; KeyError if it
        declared no stream need."""
        needs = self._needs[consumer]
        assert needs.stream is not None
        settings = self._settings
        used = dict.fromkeys((*needs.stream.read, *needs.stream.write))
        scram = settings.listeners.client_authentication is ClientAuthentication.SCRAM_SHA_512
        return StreamAccess(
            peer=self.peer,
            bootstrap_servers=(self.endpoint.address,),
            security_protocol=security_protocols(settings)[CLIENT],
            sasl_mechanism=SCRAM_MECHANISM if scram else None,
            user=consumer,
            password=self._passwords.get(consumer) if scram else None,
            ca_certificate=self.certificate.cert_pem if self.certificate else None,
            ready=(*self._granted.get(consumer, ()), *(self.topics[t].topic for t in used)),
        )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
