"""Ownership and cost: who owns a workload or data store, who pays, what data it holds."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from . import wire

OWNERSHIP_SCHEMA: dict[str, dict[str, Any]] = {
    "requiredLabels": {
        "type": "array",
        "items": {"type": "string"},
        "default": [wire.OWNER_LABEL, wire.COST_CENTER_LABEL, wire.ENV_LABEL],
    }
}
CLASSIFICATION_SCHEMA: dict[str, dict[str, Any]] = {
    "allowedClassifications": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["public", "internal", "confidential", "restricted"],
    }
}


def _governed(resource_type: str) -> bool:
    kind = wire.kubernetes_kind(resource_type)
    return (
        kind in wire.WORKLOAD_KINDS
        or kind in ("PersistentVolumeClaim", "Namespace")
        or resource_type in (wire.DOCKER_CONTAINER, wire.DOCKER_VOLUME)
    )


def _missing(found: dict[str, Any], required: list[str]) -> list[str]:
    return [key for key in required if not wire.is_unknown(found.get(key)) and not found.get(key)]


def validate_ownership_labels(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Workloads, namespaces and volumes carry owner, cost-center and environment labels."""
    if not _governed(args.resource_type):
        return
    required = list(wire.setting(args, OWNERSHIP_SCHEMA, "requiredLabels"))
    missing = _missing(wire.labels(args.resource_type, args.props), required)
    if missing and not wire.labels_unknown(args.resource_type, args.props):
        report(f"{args.resource_type} '{args.name}' lacks labels: {', '.join(missing)}.", None)
    template = wire.pod_template_labels(args.resource_type, args.props)
    if template is not None:
        missing_in_pods = _missing(template, required)
        if missing_in_pods:
            report(
                f"the pods of '{args.name}' lack labels: {', '.join(missing_in_pods)} "
                "(cost tools read pod labels).",
                None,
            )


def _stores_data(resource_type: str, props: Any) -> bool:
    kind = wire.kubernetes_kind(resource_type)
    if kind in ("StatefulSet", "PersistentVolumeClaim") or resource_type == wire.DOCKER_VOLUME:
        return True
    if resource_type == wire.DOCKER_CONTAINER:
        # A read-only mount delivers inputs (config); only a writable one stores data.
        return any(
            wire.get(mount, "type") == "volume" and wire.get(mount, "readOnly") is not True
            for mount in wire.elements(wire.get(props, "mounts"))
        ) or any(
            wire.get(volume, "readOnly") is not True
            for volume in wire.elements(wire.get(props, "volumes"))
        )
    if kind in wire.WORKLOAD_KINDS:
        spec = wire.pod_spec(resource_type, props)
        return any(
            wire.get(volume, "persistentVolumeClaim") is not None
            for volume in wire.elements(wire.get(spec, "volumes"))
        )
    return False


def validate_classification(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Whatever stores data carries a known `dataplatform.io/data-classification`."""
    if not _stores_data(args.resource_type, args.props):
        return
    allowed = list(wire.setting(args, CLASSIFICATION_SCHEMA, "allowedClassifications"))
    value = wire.labels(args.resource_type, args.props).get(wire.CLASSIFICATION_LABEL)
    if wire.is_unknown(value) or wire.labels_unknown(args.resource_type, args.props):
        return
    if not value:
        report(
            f"'{args.name}' stores data but has no {wire.CLASSIFICATION_LABEL} label "
            f"(one of {', '.join(allowed)}).",
            None,
        )
    elif value not in allowed:
        report(
            f"'{args.name}' has {wire.CLASSIFICATION_LABEL}={value!r}; allowed: "
            f"{', '.join(allowed)}.",
            None,
        )


workload_ownership_labels = ResourceValidationPolicy(
    name="workload-ownership-labels",
    description=(
        "Every workload (Kubernetes Deployment, StatefulSet, DaemonSet, Job, CronJob, Pod, "
        "ReplicaSet and their pod templates; Docker containers), namespace and volume "
        "(PVC, Docker volume) carries the owner, cost-center and environment labels. "
        "MinIO buckets and PostgreSQL databases have no labels in their provider schemas; "
        "they are covered through the labelled server workload and volume that store them."
    ),
    validate=validate_ownership_labels,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(properties=OWNERSHIP_SCHEMA),
    remediation_steps=(
        "Build the resource through the platform runtime (it applies the shared label "
        "vocabulary), or add dataplatform.io/owner, dataplatform.io/cost-center and "
        "dataplatform.io/environment to metadata.labels and the pod template labels."
    ),
    tags=["ownership", "cost"],
)

data_store_classification = ResourceValidationPolicy(
    name="data-store-classification-label",
    description=(
        "Every data store (StatefulSet, PersistentVolumeClaim, workload mounting a PVC, "
        "Docker volume or container mounting one) carries dataplatform.io/data-classification "
        "with an allowed value. Buckets and databases have no labels in the MinIO and "
        "PostgreSQL provider schemas, so the server and volume storing them are checked."
    ),
    validate=validate_classification,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(properties=CLASSIFICATION_SCHEMA),
    remediation_steps=(
        "Set the workload's data classification (public, internal, confidential or "
        "restricted) so the runtime labels the workload and its volumes."
    ),
    tags=["ownership", "data-governance"],
)

POLICIES = [workload_ownership_labels, data_store_classification]
"""The ownership policies."""
