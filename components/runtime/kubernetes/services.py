"""Services: the stable in-cluster address of a workload, and StatefulSets' headless ones."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.runtime import labels
from components.runtime.kubernetes.placement import Placement
from components.runtime.workload import Port, Workload, WorkloadIdentity

core = k8s.core.v1


def _ports(workload: Workload) -> list[core.ServicePortArgs]:
    return [
        core.ServicePortArgs(
            name=port.name, port=port.container_port, target_port=port.name, protocol=port.protocol
        )
        for port in workload.ports
    ]


def headless_service(place: Placement) -> str:
    """The headless Service that gives a StatefulSet's pods stable DNS names; its name."""
    name = f"{place.name}-headless"
    core.Service(
        f"{place.prefix}-headless",
        metadata=place.meta(name),
        spec=core.ServiceSpecArgs(
            cluster_ip="None",
            publish_not_ready_addresses=True,
            selector=labels.selector_labels(place.workload.identity),
            ports=_ports(place.workload),
        ),
        opts=place.options(),
    )
    return name


def stable_service(place: Placement, *, live_color: str | None) -> core.Service:
    """The colour-independent ClusterIP Service; under blue-green it selects the live colour.

    Named `<service>-<component>` (the workload's internal host) and labelled without a
    colour, so it outlives any one colour.
    """
    identity = place.workload.identity
    selector = {labels.NAME: identity.service, labels.COMPONENT: identity.component}
    if live_color:
        selector[labels.COLOR] = live_color
    service_labels = labels.workload_labels(
        place.stack,
        WorkloadIdentity(
            service=identity.service, component=identity.component, version=identity.version
        ),
        data_classification=place.workload.data_classification,
    )
    return core.Service(
        f"{place.stack.prefix}-{identity.base_name}-service",
        metadata=place.meta(identity.base_name, service_labels),
        spec=core.ServiceSpecArgs(
            type="ClusterIP", selector=selector, ports=_ports(place.workload)
        ),
        opts=place.options(),
    )


def admin_service(
    place: Placement, *, port: Port, source_ranges: tuple[str, ...], annotations: dict[str, str]
) -> core.Service:
    """An internal LoadBalancer to one admin port of a workload, open to the admin CIDRs only.

    This is how the control-plane providers (pulumi-postgresql, pulumi-minio) reach a
    server that the same `pulumi up` creates, from an empty cluster and unattended: the
    provider's host is this Service's load-balancer address. `externalTrafficPolicy:
    Local` keeps the client's address, so the admin NetworkPolicy (ipBlock of the admin
    CIDRs) still judges the real caller. Raises ValueError without admin CIDRs.
    https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer
    """
    workload = place.workload
    if not source_ranges:
        raise ValueError(
            f"workload {place.name} has admin ports but kubernetes.adminCidrs is empty: "
            "the admin load balancer would admit every address"
        )
    return core.Service(
        f"{place.prefix}-admin",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=f"{workload.identity.base_name}-admin",
            namespace=place.namespace,
            labels=place.labels,
            annotations=dict(sorted(annotations.items())) or None,
        ),
        spec=core.ServiceSpecArgs(
            type="LoadBalancer",
            selector=labels.selector_labels(workload.identity),
            external_traffic_policy="Local",
            load_balancer_source_ranges=list(source_ranges),
            ports=[
                core.ServicePortArgs(
                    name=port.name,
                    port=port.container_port,
                    target_port=port.name,
                    protocol=port.protocol,
                )
            ],
        ),
        opts=place.options(),
    )


def load_balancer_host(service: core.Service) -> pulumi.Output[str]:
    """The first ingress address (IP, else host name) the cloud gave a LoadBalancer Service."""

    def first(status: object) -> str:
        ingress = getattr(getattr(status, "load_balancer", None), "ingress", None) or []
        for entry in ingress:
            address = getattr(entry, "ip", None) or getattr(entry, "hostname", None)
            if address:
                return address
        return ""

    return service.status.apply(first)
