"""Durability: protected state in prod, sized volumes, redundant stateless tiers."""

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

PROTECT_SCHEMA: dict[str, dict[str, Any]] = {
    "requireProtect": {"type": "boolean", "default": True},
}
REPLICAS_SCHEMA: dict[str, dict[str, Any]] = {
    "minReplicas": {"type": "integer", "default": 2},
    "singletons": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Deployments that must run exactly one pod by design, as 'namespace/name'.",
    },
}
_STATEFUL_KINDS = frozenset({"StatefulSet", "PersistentVolumeClaim"})
_STATEFUL_TYPES = frozenset({wire.DOCKER_VOLUME, wire.MINIO_BUCKET, wire.PG_DATABASE})


def is_stateful(resource_type: str) -> bool:
    """StatefulSets, PVCs, Docker volumes, MinIO buckets and PostgreSQL databases."""
    return (
        wire.kubernetes_kind(resource_type) in _STATEFUL_KINDS or resource_type in _STATEFUL_TYPES
    )


def validate_protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Stateful resources carry `protect` where the stack requires it."""
    if not is_stateful(args.resource_type) or not wire.setting(
        args, PROTECT_SCHEMA, "requireProtect"
    ):
        return
    if not args.opts.protect:
        report(
            f"stateful {args.resource_type.rsplit(':', 1)[-1]} '{args.name}' is not protected; "
            "a replace or destroy would delete its data.",
            None,
        )


def validate_sized(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """PVCs, StatefulSet claim templates and Docker volumes declare a size."""
    kind = wire.kubernetes_kind(args.resource_type)
    if kind == "PersistentVolumeClaim":
        size = wire.get(args.props, "spec", "resources", "requests", "storage")
        if not wire.is_unknown(size) and wire.memory_bytes(size) is None:
            report(f"PVC '{args.name}' requests no valid storage size ({size!r}).", None)
    elif kind == "StatefulSet":
        for template in wire.elements(wire.get(args.props, "spec", "volumeClaimTemplates")):
            size = wire.get(template, "spec", "resources", "requests", "storage")
            if not wire.is_unknown(size) and wire.memory_bytes(size) is None:
                claim = wire.text(wire.get(template, "metadata", "name")) or "?"
                report(
                    f"volumeClaimTemplate '{claim}' requests no valid storage size ({size!r}).",
                    None,
                )
    elif args.resource_type == wire.DOCKER_VOLUME:
        size = wire.labels(args.resource_type, args.props).get(wire.SIZE_LABEL)
        if not wire.is_unknown(size) and wire.memory_bytes(size) is None:
            report(
                f"Docker volume '{args.name}' has no valid {wire.SIZE_LABEL} label ({size!r}); "
                "Docker volumes have no size, so the label records and budgets it.",
                None,
            )


def _selects(selector: Any, pod_labels: dict[str, Any]) -> bool:
    match = dict(wire.items(wire.get(selector, "matchLabels")))
    if wire.elements(wire.get(selector, "matchExpressions")):
        return False  # not evaluated: be strict
    return bool(match) and all(pod_labels.get(k) == v for k, v in match.items())


def validate_replicas(args: StackValidationArgs, report: ReportViolation) -> None:
    """Deployments run at least minReplicas pods, guarded by a PodDisruptionBudget."""
    minimum = int(wire.setting(args, REPLICAS_SCHEMA, "minReplicas"))
    budgets: list[tuple[str | None, Any]] = []
    for resource in args.resources:
        if wire.kubernetes_kind(resource.resource_type) == "PodDisruptionBudget":
            budgets.append(
                (
                    wire.text(wire.get(resource.props, "metadata", "namespace")),
                    wire.get(resource.props, "spec", "selector"),
                )
            )
    singletons = {str(s) for s in wire.setting(args, REPLICAS_SCHEMA, "singletons")}
    for resource in args.resources:
        if wire.kubernetes_kind(resource.resource_type) != "Deployment":
            continue
        namespace = wire.text(wire.get(resource.props, "metadata", "namespace"))
        name = wire.text(wire.get(resource.props, "metadata", "name"))
        if f"{namespace or 'default'}/{name}" in singletons:
            continue
        count = wire.replicas(resource.resource_type, resource.props)
        if count is None:
            continue
        if count < minimum:
            report(
                f"Deployment '{resource.name}' runs {count} replica(s); this stack needs >= {minimum}.",
                resource.urn,
            )
        if minimum < 2:
            continue
        pods = wire.pod_template_labels(resource.resource_type, resource.props) or {}
        if not any(ns == namespace and _selects(sel, pods) for ns, sel in budgets):
            report(
                f"Deployment '{resource.name}' has no PodDisruptionBudget selecting its pods.",
                resource.urn,
            )


stateful_protected = ResourceValidationPolicy(
    name="stateful-resources-protected",
    description=(
        "Where requireProtect is set (prod), stateful resources (StatefulSet, "
        "PersistentVolumeClaim, Docker volume, MinIO bucket, PostgreSQL database) carry the "
        "protect resource option."
    ),
    validate=validate_protected,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=PROTECT_SCHEMA),
    remediation_steps="Declare the resource with ResourceOptions(protect=True) in prod stacks.",
    tags=["durability"],
)

volumes_sized = ResourceValidationPolicy(
    name="volumes-have-size",
    description=(
        "Every PersistentVolumeClaim and StatefulSet volumeClaimTemplate requests a storage "
        "size; every Docker volume records one in the dataplatform.io/requested-size label."
    ),
    validate=validate_sized,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps="Give the workload's volume a size (e.g. '50Gi') in the stack config.",
    tags=["durability", "cost"],
)

stateless_replicas = StackValidationPolicy(
    name="stateless-replicas-with-disruption-budget",
    description=(
        "Every Deployment (a stateless tier) runs at least minReplicas replicas (2 in prod) "
        "and, when minReplicas >= 2, a PodDisruptionBudget in its namespace selects its pods. "
        "Deployments listed in singletons (one pod by design, e.g. a Trino coordinator) are exempt."
    ),
    validate=validate_replicas,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=REPLICAS_SCHEMA),
    remediation_steps=(
        "Raise the service's replicas in the stack config; the runtime adds a "
        "PodDisruptionBudget (maxUnavailable 1) for replicated workloads."
    ),
    tags=["durability", "availability"],
)

POLICIES = [stateful_protected, volumes_sized, stateless_replicas]
"""The durability policies."""
