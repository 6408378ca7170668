"""Network: default-deny namespaces, no unreviewed external Services, loopback-only Docker ports."""

from __future__ import annotations

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


def validate_service_exposure(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No NodePort or LoadBalancer Service unless the stack allows exposure or lists it."""
    if wire.kubernetes_kind(args.resource_type) != "Service":
        return
    if not wire.setting(args, EXPOSURE_SCHEMA, "restrictExposure"):
        return
    kind = wire.get(args.props, "spec", "type")
    if kind not in ("NodePort", "LoadBalancer"):
        return
    namespace = wire.text(wire.get(args.props, "metadata", "namespace")) or "default"
    name = wire.text(wire.get(args.props, "metadata", "name")) or args.name
    allowed = list(wire.setting(args, EXPOSURE_SCHEMA, "allowedServices"))
    if f"{namespace}/{name}" not in allowed:
        report(
            f"Service {namespace}/{name} is type {kind} and not on the allow-list "
            "(allowedServices).",
            None,
        )


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
        "Where restrictExposure is set (prod), no Kubernetes Service is NodePort or "
        "LoadBalancer unless listed in allowedServices."
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

POLICIES = [namespace_default_deny, service_exposure, docker_ports_loopback]
"""The network policies."""
