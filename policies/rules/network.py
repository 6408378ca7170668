"""Network exposure in every form Kubernetes and Docker offer.

Default-deny namespaces; no unreviewed NodePort/LoadBalancer Service or externalIPs; no
hostPort on any container of any pod spec; no NetworkPolicy rule that admits every
source or every destination; Docker ports published on loopback only. Host networking
is judged by pod-no-host-namespaces (pod_security).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import wire

_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "PersistentVolume",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
    }
)


def _default_deny_directions(props: Any) -> set[str]:
    """Directions a NetworkPolicy denies for every pod of its namespace (empty if none)."""
    selector = wire.get(props, "spec", "podSelector")
    if wire.is_unknown(selector) or (
        selector and (wire.get(selector, "matchLabels") or wire.get(selector, "matchExpressions"))
    ):
        return set()
    types = {wire.text(t) for t in wire.elements(wire.get(props, "spec", "policyTypes"))}
    denied = set()
    if "Ingress" in types and not wire.elements(wire.get(props, "spec", "ingress")):
        denied.add("Ingress")
    if "Egress" in types and not wire.elements(wire.get(props, "spec", "egress")):
        denied.add("Egress")
    return denied


def validate_default_deny(args: StackValidationArgs, report: ReportViolation) -> None:
    """Each namespace the stack creates or uses has a default-deny NetworkPolicy."""
    namespaces: dict[str, str | None] = {}
    denied: dict[str, set[str]] = {}
    for resource in args.resources:
        kind = wire.kubernetes_kind(resource.resource_type)
        if kind is None or resource.resource_type.startswith("kubernetes:yaml"):
            continue
        if kind == "Namespace":
            name = wire.text(wire.get(resource.props, "metadata", "name"))
            if name:
                namespaces[name] = resource.urn
            continue
        if kind in _CLUSTER_SCOPED:
            continue
        namespace = wire.text(wire.get(resource.props, "metadata", "namespace"))
        if namespace:
            namespaces.setdefault(namespace, None)
        if kind == "NetworkPolicy" and namespace:
            denied.setdefault(namespace, set()).update(_default_deny_directions(resource.props))
    for namespace, urn in sorted(namespaces.items()):
        directions = denied.get(namespace, set())
        if not directions:
            report(
                f"namespace '{namespace}' has no default-deny NetworkPolicy (empty podSelector, "
                "policyTypes Ingress and Egress, no rules).",
                urn,
            )
        elif directions != {"Ingress", "Egress"}:
            missing = sorted({"Ingress", "Egress"} - directions)
            report(
                f"namespace '{namespace}' denies only {', '.join(sorted(directions))} by "
                f"default; {', '.join(missing)} stays open.",
                urn,
            )


EXPOSURE_SCHEMA: dict[str, dict[str, Any]] = {
    "restrictExposure": {"type": "boolean", "default": True},
    "allowedServices": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Services allowed to be NodePort/LoadBalancer, as 'namespace/name'.",
    },
}


def _service_id(args: ResourceValidationArgs) -> str:
    namespace = wire.text(wire.get(args.props, "metadata", "namespace")) or "default"
    name = wire.text(wire.get(args.props, "metadata", "name")) or args.name
    return f"{namespace}/{name}"


_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)
"""RFC 1918 and RFC 4193 networks: not routed on the internet."""


def _inside(network: Any, private: Any) -> bool:
    return network.version == private.version and network.subnet_of(private)


def _public_ranges(ranges: Any) -> list[str]:
    """loadBalancerSourceRanges that admit public addresses ("every address" when none).

    A LoadBalancer restricted to private networks (RFC 1918, RFC 4193) is reachable only
    from inside the organisation's network, like the admin CIDRs of our stacks.
    """
    listed = [wire.text(r) for r in wire.elements(ranges)]
    if not listed:
        return ["every address (no loadBalancerSourceRanges)"]
    public: list[str] = []
    for cidr in listed:
        try:
            network = ipaddress.ip_network(cidr or "", strict=False)
        except ValueError:
            public.append(repr(cidr))
            continue
        if not any(_inside(network, private) for private in _PRIVATE_NETWORKS):
            public.append(str(cidr))
    return public


def validate_service_exposure(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No NodePort/LoadBalancer Service and no externalIPs unless the stack allows
    exposure or lists the Service (also ServicePatch)."""
    if wire.kubernetes_kind(args.resource_type) not in ("Service", "ServicePatch"):
        return
    if not wire.setting(args, EXPOSURE_SCHEMA, "restrictExposure"):
        return
    service = _service_id(args)
    if service in list(wire.setting(args, EXPOSURE_SCHEMA, "allowedServices")):
        return
    kind = wire.get(args.props, "spec", "type")
    if kind == "LoadBalancer":
        ranges = wire.get(args.props, "spec", "loadBalancerSourceRanges")
        if wire.is_unknown(ranges):
            return
        public = _public_ranges(ranges)
        if public:
            report(
                f"Service {service} is type LoadBalancer admitting {', '.join(public)} and is "
                "not on the allow-list (allowedServices).",
                None,
            )
    elif kind == "NodePort":
        report(
            f"Service {service} is type NodePort and not on the allow-list (allowedServices).", None
        )
    addresses = [
        a
        for a in (wire.text(x) for x in wire.elements(wire.get(args.props, "spec", "externalIPs")))
        if a
    ]
    if addresses:
        report(
            f"Service {service} sets externalIPs {', '.join(addresses)} and is not on the "
            "allow-list (allowedServices).",
            None,
        )


def validate_host_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No container of any list in any pod spec binds a hostPort."""
    spec = wire.pod_spec(args.resource_type, args.props)
    for _, container in wire.container_entries(spec) if spec is not None else []:
        for port in wire.elements(wire.get(container, "ports")):
            host_port = wire.get(port, "hostPort")
            if isinstance(host_port, int | float) and not isinstance(host_port, bool) and host_port:
                report(
                    f"container '{wire.container_name(container)}' of '{args.name}' binds "
                    f"hostPort {int(host_port)} on the node.",
                    None,
                )


OPEN_PEERS_SCHEMA: dict[str, dict[str, Any]] = {
    "allowedPolicies": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "NetworkPolicies allowed to admit everyone, as 'namespace/name' (reviewed).",
    },
}
_EVERYWHERE = frozenset({"0.0.0.0/0", "::/0"})


def _empty_selector(selector: Any) -> bool:
    """True for a LabelSelector that selects everything ({} or no terms)."""
    if not isinstance(selector, Mapping):
        return False
    match = wire.get(selector, "matchLabels")
    expressions = wire.get(selector, "matchExpressions")
    if wire.is_unknown(match) or wire.is_unknown(expressions):
        return False
    return not wire.elements(expressions) and not list(wire.items(match))


def _open_peer(peer: Any) -> str | None:
    """Why one NetworkPolicyPeer admits everyone, or None when it does not (or is unknown)."""
    if wire.is_unknown(peer):
        return None
    cidr = wire.text(wire.get(peer, "ipBlock", "cidr"))
    if cidr is not None:
        prefix = cidr.rsplit("/", 1)[-1]
        return f"ipBlock {cidr}" if cidr in _EVERYWHERE or prefix == "0" else None
    namespaces = wire.get(peer, "namespaceSelector")
    pods = wire.get(peer, "podSelector")
    if namespaces is None and pods is None:
        return "an empty peer"
    every_namespace = namespaces is not None and _empty_selector(namespaces)
    if every_namespace and (pods is None or _empty_selector(pods)):
        return "namespaceSelector {} (every pod of every namespace)"
    return None


def _open_rules(props: Any, direction: str, peers_key: str) -> list[str]:
    """Reasons each rule of one direction admits every source/destination."""
    reasons: list[str] = []
    for number, rule in enumerate(wire.elements(wire.get(props, "spec", direction)), start=1):
        peers = wire.get(rule, peers_key)
        if wire.is_unknown(rule) or wire.is_unknown(peers):
            continue
        if not wire.elements(peers):
            reasons.append(f"{direction} rule {number} has no '{peers_key}' (admits everyone)")
            continue
        for peer in wire.elements(peers):
            why = _open_peer(peer)
            if why:
                reasons.append(f"{direction} rule {number} admits {why}")
    return reasons


def validate_open_peers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No NetworkPolicy rule admits all sources (ingress) or all destinations (egress)."""
    if wire.kubernetes_kind(args.resource_type) not in ("NetworkPolicy", "NetworkPolicyPatch"):
        return
    policy = _service_id(args)
    if policy in list(wire.setting(args, OPEN_PEERS_SCHEMA, "allowedPolicies")):
        return
    for reason in _open_rules(args.props, "ingress", "from") + _open_rules(
        args.props, "egress", "to"
    ):
        report(f"NetworkPolicy {policy}: {reason}.", None)


PORTS_SCHEMA: dict[str, dict[str, Any]] = {
    "allowedBindAddresses": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["127.0.0.1", "::1"],
    }
}


def validate_docker_ports(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Published Docker ports bind to loopback only."""
    if args.resource_type != wire.DOCKER_CONTAINER:
        return
    allowed = list(wire.setting(args, PORTS_SCHEMA, "allowedBindAddresses"))
    for port in wire.elements(wire.get(args.props, "ports")):
        ip = wire.get(port, "ip")
        if wire.is_unknown(ip):
            continue
        internal = wire.get(port, "internal")
        # The engine sends numbers as floats (protobuf Struct): show 6379, not 6379.0.
        if isinstance(internal, float) and internal.is_integer():
            internal = int(internal)
        if not ip:
            report(
                f"port {internal} of '{args.name}' binds to every interface (no ip); "
                "set ip: 127.0.0.1.",
                None,
            )
        elif ip not in allowed:
            report(f"port {internal} of '{args.name}' binds to {ip}, not loopback.", None)


namespace_default_deny = StackValidationPolicy(
    name="namespace-default-deny-network-policy",
    description=(
        "Every Kubernetes namespace the stack creates or deploys into has a NetworkPolicy "
        "selecting all pods (empty podSelector) that denies both Ingress and Egress."
    ),
    validate=validate_default_deny,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Add a NetworkPolicy with podSelector: {}, policyTypes: [Ingress, Egress] and no "
        "rules in the namespace, then allow the flows each workload needs."
    ),
    tags=["network"],
)

service_exposure = ResourceValidationPolicy(
    name="service-external-exposure-allowed",
    description=(
        "Where restrictExposure is set (test, prod), no Kubernetes Service is NodePort, "
        "a LoadBalancer admitting public addresses (no loadBalancerSourceRanges, or a range "
        "that is not private, RFC 1918/4193) or sets externalIPs, unless listed in "
        "allowedServices."
    ),
    validate=validate_service_exposure,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=EXPOSURE_SCHEMA),
    remediation_steps=(
        "Use a ClusterIP Service behind the ingress, or get the exposure reviewed and add "
        "'namespace/name' to allowedServices in policies/config/<stack>.json."
    ),
    tags=["network"],
)

docker_ports_loopback = ResourceValidationPolicy(
    name="docker-ports-bind-loopback",
    description="Every port a Docker container publishes binds to 127.0.0.1 (or ::1).",
    validate=validate_docker_ports,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=PORTS_SCHEMA),
    remediation_steps="Set ip: 127.0.0.1 on each ports entry of the container.",
    tags=["network"],
)

host_ports = ResourceValidationPolicy(
    name="pod-no-host-ports",
    description=(
        "No container (app, init or ephemeral) of any pod spec (Pod, Deployment, "
        "StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob, "
        "PodTemplate) declares a hostPort, which publishes it on every node's address "
        "around Services and NetworkPolicies."
    ),
    validate=validate_host_ports,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Remove hostPort; reach the pod through a ClusterIP Service.",
    tags=["network"],
)

network_policy_open_peers = ResourceValidationPolicy(
    name="network-policy-no-open-peers",
    description=(
        "No NetworkPolicy ingress rule admits every source, and no egress rule every "
        "destination: a rule without from/to, an empty peer, namespaceSelector {} (with no "
        "or an empty podSelector) or an ipBlock of 0.0.0.0/0 or ::/0. Reviewed exceptions "
        "go in allowedPolicies."
    ),
    validate=validate_open_peers,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=OPEN_PEERS_SCHEMA),
    remediation_steps=(
        "Name the peers: a podSelector for the client workload, a namespaceSelector with "
        "labels, or the narrowest ipBlock; list a reviewed exception as 'namespace/name' in "
        "allowedPolicies of policies/config/<stack>.json."
    ),
    tags=["network"],
)

POLICIES = [
    namespace_default_deny,
    service_exposure,
    docker_ports_loopback,
    host_ports,
    network_policy_open_peers,
]
"""The network policies."""
