"""Durability: protected state in prod, sized volumes, redundant stateless tiers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
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


_STATELESS_KINDS = frozenset({"Deployment", "ReplicaSet", "ReplicationController"})


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget: where it is, what it selects, what it allows."""

    urn: str
    name: str
    namespace: str | None
    selector: Any
    min_available: Any
    max_unavailable: Any


@dataclass(frozen=True)
class Pods:
    """The pods one workload asks for: namespace, template labels, replicas."""

    name: str
    namespace: str | None
    labels: dict[str, Any] | None
    replicas: int | None


def _budgets(resources: list[PolicyResource]) -> list[Budget]:
    found: list[Budget] = []
    for resource in resources:
        if wire.kubernetes_kind(resource.resource_type) != "PodDisruptionBudget":
            continue
        spec = wire.get(resource.props, "spec")
        found.append(
            Budget(
                resource.urn,
                wire.text(wire.get(resource.props, "metadata", "name")) or resource.name,
                wire.namespace_of(resource.props),
                wire.get(spec, "selector"),
                wire.get(spec, "minAvailable"),
                wire.get(spec, "maxUnavailable"),
            )
        )
    return found


def _workloads(resources: list[PolicyResource]) -> list[tuple[PolicyResource, Pods]]:
    found: list[tuple[PolicyResource, Pods]] = []
    for resource in resources:
        kind = wire.workload_kind(resource.resource_type)
        if (
            kind is None
            or kind == "PodTemplate"
            or kind != wire.kubernetes_kind(resource.resource_type)
        ):
            continue
        pods = Pods(
            wire.text(wire.get(resource.props, "metadata", "name")) or resource.name,
            wire.namespace_of(resource.props),
            wire.pod_template_labels(resource.resource_type, resource.props),
            wire.replicas(resource.resource_type, resource.props),
        )
        found.append((resource, pods))
    return found


def _selects(budget: Budget, pods: Pods) -> bool | None:
    """Whether a budget covers a workload's pods (same namespace, selector matches)."""
    if budget.namespace is None or pods.namespace is None or pods.labels is None:
        return None
    if budget.namespace != pods.namespace:
        return False
    return wire.selector_matches(budget.selector, pods.labels)


def _percent(value: Any) -> float | None:
    raw = wire.text(value)
    if raw is None or not raw.endswith("%"):
        return None
    try:
        return float(raw[:-1])
    except ValueError:
        return None


def _number(value: Any) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    raw = wire.text(value)
    return int(raw) if raw is not None and raw.isdigit() else None


def allowed_evictions(budget: Budget, total: int | None) -> int | None:
    """How many of `total` selected pods may be evicted at once; None when unknown.

    Follows the disruption controller: percentages round up (minAvailable 50% of 3 keeps
    2), maxUnavailable wins when both are set (the API forbids both).
    """
    if budget.max_unavailable is not None:
        percent = _percent(budget.max_unavailable)
        if percent is not None:
            return None if total is None else math.ceil(total * percent / 100)
        return _number(budget.max_unavailable)
    if budget.min_available is None:
        return None
    percent = _percent(budget.min_available)
    if percent is not None:
        if percent >= 100:
            return 0
        return None if total is None else total - math.ceil(total * percent / 100)
    minimum = _number(budget.min_available)
    return None if minimum is None or total is None else total - minimum


def validate_disruption_budgets(args: StackValidationArgs, report: ReportViolation) -> None:
    """No PodDisruptionBudget leaves zero voluntary evictions for the pods it selects."""
    resources = list(args.resources)
    workloads = _workloads(resources)
    for budget in _budgets(resources):
        selected = [pods for _, pods in workloads if _selects(budget, pods)]
        unknown = any(_selects(budget, pods) is None for _, pods in workloads)
        counts = [pods.replicas for pods in selected]
        # Pods of no workload here (another tool's) cannot be counted: only the
        # settings that block every eviction whatever the count are judged then.
        known = selected and not unknown and None not in counts
        total = sum(c or 0 for c in counts) if known else None
        allowed = allowed_evictions(budget, total)
        if allowed is None or allowed > 0:
            continue
        names = ", ".join(p.name for p in selected) or "no workload of this stack"
        setting = (
            f"maxUnavailable {wire.shown(budget.max_unavailable)}"
            if budget.max_unavailable is not None
            else f"minAvailable {wire.shown(budget.min_available)}"
        )
        report(
            f"PodDisruptionBudget {budget.namespace}/{budget.name} ({setting}) allows no "
            f"voluntary eviction of its {total if total is not None else '?'} pod(s) "
            f"({names}); node drains and upgrades would hang.",
            budget.urn,
        )


def validate_replicas(args: StackValidationArgs, report: ReportViolation) -> None:
    """Stateless workloads run at least minReplicas pods; replicated ones have a PDB."""
    minimum = int(wire.setting(args, REPLICAS_SCHEMA, "minReplicas"))
    resources = list(args.resources)
    budgets = _budgets(resources)
    singletons = {str(s) for s in wire.setting(args, REPLICAS_SCHEMA, "singletons")}
    for resource, pods in _workloads(resources):
        if wire.workload_kind(resource.resource_type) not in _STATELESS_KINDS:
            continue
        if f"{pods.namespace}/{pods.name}" in singletons or pods.replicas is None:
            continue
        kind = wire.workload_kind(resource.resource_type)
        if pods.replicas < minimum:
            report(
                f"{kind} '{resource.name}' runs {pods.replicas} replica(s); this stack needs "
                f">= {minimum}.",
                resource.urn,
            )
        if max(minimum, pods.replicas) < 2:
            continue
        if not any(_selects(b, pods) is not False for b in budgets):
            report(
                f"{kind} '{resource.name}' has no PodDisruptionBudget selecting its pods.",
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
        "Every stateless workload (Deployment, ReplicaSet, ReplicationController) runs at "
        "least minReplicas replicas (2 in prod) and, when it or the stack runs 2 or more, a "
        "PodDisruptionBudget in its namespace selects its pods. Workloads listed in "
        "singletons (one pod by design, e.g. a Trino coordinator) are exempt."
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

budget_allows_eviction = StackValidationPolicy(
    name="disruption-budget-allows-eviction",
    description=(
        "No PodDisruptionBudget allows zero voluntary evictions: maxUnavailable 0 or '0%', "
        "minAvailable '100%', or minAvailable >= the replicas of the workloads it selects "
        "(matchLabels and matchExpressions evaluated against every pod template of the "
        "stack, e.g. minAvailable 1 on a single replica). Such a budget makes kubectl drain, "
        "node upgrades and autoscaler scale-down hang."
    ),
    validate=validate_disruption_budgets,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps=(
        "Use maxUnavailable: 1 (what the runtime emits), or a minAvailable below the "
        "replica count; a singleton needs no budget (or maxUnavailable: 1)."
    ),
    tags=["durability", "availability"],
)

POLICIES = [stateful_protected, volumes_sized, stateless_replicas, budget_allows_eviction]
"""The durability policies."""
