"""Budget: what a stack asks of the cluster (CPU, memory, storage) stays within its budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import wire

SCHEMA: dict[str, dict[str, Any]] = {
    "maxCpu": {"type": "number", "default": 8, "description": "CPU cores requested, summed."},
    "maxMemory": {"type": "string", "default": "32Gi", "description": "Memory requested, summed."},
    "maxStorage": {"type": "string", "default": "1Ti", "description": "Volume sizes, summed."},
}
_MEGABYTE = 2**20


@dataclass
class Totals:
    """Requested CPU cores, memory bytes and storage bytes of a stack."""

    cpu: float = 0.0
    memory: float = 0.0
    storage: float = 0.0

    def describe(self) -> str:
        """Human totals for messages."""
        return (
            f"cpu {self.cpu:g} cores, memory {wire.format_bytes(self.memory)}, "
            f"storage {wire.format_bytes(self.storage)}"
        )


def _add_kubernetes(totals: Totals, resource: PolicyResource) -> None:
    kind = wire.kubernetes_kind(resource.resource_type)
    if kind is None or kind.endswith("Patch"):
        return  # a patch changes an object counted where it is declared
    count = wire.replicas(resource.resource_type, resource.props) or 0
    spec = wire.pod_spec(resource.resource_type, resource.props)
    if spec is not None:
        for container in wire.containers(spec, include_init=False):
            requests = wire.get(container, "resources", "requests")
            totals.cpu += (wire.cpu_cores(wire.get(requests, "cpu")) or 0) * count
            totals.memory += (wire.memory_bytes(wire.get(requests, "memory")) or 0) * count
    if kind == "StatefulSet":
        for template in wire.elements(wire.get(resource.props, "spec", "volumeClaimTemplates")):
            size = wire.get(template, "spec", "resources", "requests", "storage")
            totals.storage += (wire.memory_bytes(size) or 0) * count
    elif kind == "PersistentVolumeClaim":
        size = wire.get(resource.props, "spec", "resources", "requests", "storage")
        totals.storage += wire.memory_bytes(size) or 0


def _add_docker(totals: Totals, resource: PolicyResource) -> None:
    if resource.resource_type == wire.DOCKER_CONTAINER:
        totals.cpu += wire.cpu_cores(wire.get(resource.props, "cpus")) or 0
        memory = wire.get(resource.props, "memoryReservation") or wire.get(resource.props, "memory")
        if isinstance(memory, int | float) and not isinstance(memory, bool):
            totals.memory += memory * _MEGABYTE
    elif resource.resource_type == wire.DOCKER_VOLUME:
        size = wire.labels(resource.resource_type, resource.props).get(wire.SIZE_LABEL)
        totals.storage += wire.memory_bytes(size) or 0


def stack_totals(resources: list[PolicyResource]) -> Totals:
    """Sum of CPU and memory requests x replicas and of volume sizes (Docker: limits/reservations)."""
    totals = Totals()
    for resource in resources:
        if wire.kubernetes_kind(resource.resource_type):
            _add_kubernetes(totals, resource)
        elif resource.resource_type.startswith("docker:"):
            _add_docker(totals, resource)
    return totals


def validate_budget(args: StackValidationArgs, report: ReportViolation) -> None:
    """Totals over maxCpu, maxMemory or maxStorage are violations, totals in the message."""
    totals = stack_totals(list(args.resources))
    max_cpu = float(wire.setting(args, SCHEMA, "maxCpu"))
    max_memory = wire.memory_bytes(wire.setting(args, SCHEMA, "maxMemory")) or 0
    max_storage = wire.memory_bytes(wire.setting(args, SCHEMA, "maxStorage")) or 0
    summary = f"stack requests {totals.describe()}"
    if totals.cpu > max_cpu:
        report(f"{summary}: CPU over the budget of {max_cpu:g} cores.", None)
    if totals.memory > max_memory:
        report(f"{summary}: memory over the budget of {wire.format_bytes(max_memory)}.", None)
    if totals.storage > max_storage:
        report(f"{summary}: storage over the budget of {wire.format_bytes(max_storage)}.", None)


stack_budget = StackValidationPolicy(
    name="stack-resource-budget",
    description=(
        "The sum of CPU and memory requests x replicas (Docker: cpus and memory reservation) "
        "and of volume sizes stays within the stack's maxCpu, maxMemory and maxStorage."
    ),
    validate=validate_budget,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(properties=SCHEMA),
    remediation_steps=(
        "Lower requests, replicas or volume sizes in the stack config, or raise the budget "
        "in policies/config/<stack>.json with the cost owner's approval."
    ),
    tags=["budget", "cost"],
)

POLICIES = [stack_budget]
"""The budget policies."""
