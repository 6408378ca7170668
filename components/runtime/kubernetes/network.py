"""NetworkPolicies: deny by default, then allow exactly the declared connections.

Per namespace: deny all ingress and egress, allow DNS to the cluster resolver. Per
workload: egress to each peer it declares, the matching ingress on the peer, and ingress
to its admin ports from the stack's admin CIDRs.
https://kubernetes.io/docs/concepts/services-networking/network-policies/
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.runtime import labels
from components.runtime.kubernetes.placement import Placement
from components.runtime.workload import Connection, WorkloadIdentity

meta = k8s.meta.v1
networking = k8s.networking.v1


def namespace_policies(
    name: str,
    *,
    namespace: str,
    object_labels: dict[str, str],
    dns_namespace: str,
    opts: pulumi.ResourceOptions,
) -> None:
    """The namespace's default-deny policy and its DNS egress allowance."""

    def metadata(policy_name: str) -> meta.ObjectMetaArgs:
        return meta.ObjectMetaArgs(name=policy_name, namespace=namespace, labels=object_labels)

    networking.NetworkPolicy(
        f"{name}-default-deny",
        metadata=metadata("default-deny-all"),
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(), policy_types=["Ingress", "Egress"]
        ),
        opts=opts,
    )
    resolver = networking.NetworkPolicyPeerArgs(
        namespace_selector=meta.LabelSelectorArgs(
            match_labels={"kubernetes.io/metadata.name": dns_namespace}
        ),
        pod_selector=meta.LabelSelectorArgs(match_labels={"k8s-app": "kube-dns"}),
    )
    networking.NetworkPolicy(
        f"{name}-allow-dns",
        metadata=metadata("allow-dns-egress"),
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(),
            policy_types=["Egress"],
            egress=[
                networking.NetworkPolicyEgressRuleArgs(
                    to=[resolver],
                    ports=[
                        networking.NetworkPolicyPortArgs(port=53, protocol=protocol)
                        for protocol in ("UDP", "TCP")
                    ],
                )
            ],
        ),
        opts=opts,
    )


def service_selector(service: str, component: str) -> meta.LabelSelectorArgs:
    """Pods of a service's component, whatever their colour."""
    return meta.LabelSelectorArgs(match_labels={labels.NAME: service, labels.COMPONENT: component})


def _egress_rule(connection: Connection) -> networking.NetworkPolicyEgressRuleArgs:
    return networking.NetworkPolicyEgressRuleArgs(
        to=[
            networking.NetworkPolicyPeerArgs(
                pod_selector=service_selector(connection.service, connection.component)
            )
        ],
        ports=[networking.NetworkPolicyPortArgs(port=connection.port, protocol="TCP")],
    )


def workload_policies(place: Placement, *, admin_cidrs: tuple[str, ...]) -> None:
    """Egress to declared peers, ingress on each peer from this workload, admin ingress;
    the same for the pods it launches at run time (`Workload.launches`)."""
    workload = place.workload
    identity = workload.identity
    own = service_selector(identity.service, identity.component)
    _connection_policies(place, identity, workload.connections, name=place.name)
    launched = workload.launches
    if launched is not None:
        _connection_policies(
            place, launched.identity, launched.connections, name=launched.identity.name
        )
    _admin_ingress(place, own, admin_cidrs)


def _connection_policies(
    place: Placement,
    identity: WorkloadIdentity,
    connections: tuple[Connection, ...],
    *,
    name: str,
) -> None:
    """Egress of `identity`'s pods to each connection, and ingress on each peer from them."""
    own = service_selector(identity.service, identity.component)
    prefix = f"{place.stack.prefix}-{name}"
    if connections:
        networking.NetworkPolicy(
            f"{prefix}-egress",
            metadata=place.meta(f"{name}-egress"),
            spec=networking.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(match_labels=labels.selector_labels(identity)),
                policy_types=["Egress"],
                egress=[_egress_rule(connection) for connection in connections],
            ),
            opts=place.options(),
        )
    for connection in connections:
        target = f"{connection.service}-{connection.component}"
        networking.NetworkPolicy(
            f"{prefix}-to-{target}",
            metadata=place.meta(f"{name}-to-{target}"),
            spec=networking.NetworkPolicySpecArgs(
                pod_selector=service_selector(connection.service, connection.component),
                policy_types=["Ingress"],
                ingress=[
                    networking.NetworkPolicyIngressRuleArgs(
                        from_=[networking.NetworkPolicyPeerArgs(pod_selector=own)],
                        ports=[
                            networking.NetworkPolicyPortArgs(port=connection.port, protocol="TCP")
                        ],
                    )
                ],
            ),
            opts=place.options(),
        )


def _admin_ingress(
    place: Placement, own: meta.LabelSelectorArgs, admin_cidrs: tuple[str, ...]
) -> None:
    admin_ports = [p for p in place.workload.ports if p.admin_host_port is not None]
    if not admin_ports or not admin_cidrs:
        return
    networking.NetworkPolicy(
        f"{place.prefix}-admin-ingress",
        metadata=place.meta(f"{place.name}-admin-ingress"),
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=own,
            policy_types=["Ingress"],
            ingress=[
                networking.NetworkPolicyIngressRuleArgs(
                    from_=[
                        networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=cidr))
                        for cidr in admin_cidrs
                    ],
                    ports=[
                        networking.NetworkPolicyPortArgs(port=p.container_port, protocol=p.protocol)
                        for p in admin_ports
                    ],
                )
            ],
        ),
        opts=place.options(),
    )


def api_server_egress(place: Placement, *, cidrs: tuple[str, ...], ports: tuple[int, ...]) -> None:
    """Egress of a workload that calls the API (`api_access`) to the API server's endpoints.

    The namespace denies all egress; the in-cluster `kubernetes` Service is translated to
    the endpoints' addresses before policies apply, so the rule names those (CIDRs and
    ports from the runtime's settings). Nothing when no CIDR is configured.
    """
    if not cidrs:
        return
    networking.NetworkPolicy(
        f"{place.prefix}-to-api-server",
        metadata=place.meta(f"{place.name}-to-api-server"),
        spec=networking.NetworkPolicySpecArgs(
            pod_selector=meta.LabelSelectorArgs(
                match_labels=labels.selector_labels(place.workload.identity)
            ),
            policy_types=["Egress"],
            egress=[
                networking.NetworkPolicyEgressRuleArgs(
                    to=[
                        networking.NetworkPolicyPeerArgs(ip_block=networking.IPBlockArgs(cidr=c))
                        for c in cidrs
                    ],
                    ports=[networking.NetworkPolicyPortArgs(port=p, protocol="TCP") for p in ports],
                )
            ],
        ),
        opts=place.options(),
    )
