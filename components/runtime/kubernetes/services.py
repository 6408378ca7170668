"""Services: the stable in-cluster address of a workload, and StatefulSets' headless ones."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from components.runtime import labels
from components.runtime.kubernetes.placement import Placement
from components.runtime.workload import Workload, WorkloadIdentity

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
