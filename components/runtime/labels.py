"""The one label vocabulary (DESIGN.md) that the runtimes apply and the policy pack reads."""

from __future__ import annotations

from components.runtime.stack import StackSettings
from components.runtime.workload import WorkloadIdentity

NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
PART_OF = "app.kubernetes.io/part-of"
VERSION = "app.kubernetes.io/version"
MANAGED_BY = "app.kubernetes.io/managed-by"
ENVIRONMENT = "dataplatform.io/environment"
OWNER = "dataplatform.io/owner"
COST_CENTER = "dataplatform.io/cost-center"
DATA_CLASSIFICATION = "dataplatform.io/data-classification"
COLOR = "dataplatform.io/color"
CONFIG_HASH = "dataplatform.io/config-hash"
"""Pod-template annotation (Docker: container label) digesting every file and secret read."""

PART_OF_VALUE = "data-platform"


def stack_labels(stack: StackSettings) -> dict[str, str]:
    """Labels every resource of a stack carries, workload or not."""
    return {
        PART_OF: PART_OF_VALUE,
        MANAGED_BY: "pulumi",
        ENVIRONMENT: stack.environment,
        OWNER: stack.owner,
        COST_CENTER: stack.cost_center,
    }


def selector_labels(identity: WorkloadIdentity) -> dict[str, str]:
    """Labels that pick exactly one workload's pods (its colour included, when it has one)."""
    labels = {NAME: identity.service, COMPONENT: identity.component}
    if identity.color:
        labels[COLOR] = identity.color
    return labels


def workload_labels(
    stack: StackSettings,
    identity: WorkloadIdentity,
    *,
    data_classification: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The full label set of a workload and everything rendered for it."""
    labels = {**stack_labels(stack), **selector_labels(identity), VERSION: identity.version}
    if data_classification:
        labels[DATA_CLASSIFICATION] = data_classification
    labels.update(extra or {})
    return dict(sorted(labels.items()))


def volume_claim_labels(stack: StackSettings, identity: WorkloadIdentity) -> dict[str, str]:
    """Labels of a StatefulSet's volume claim template: only those fixed for the volume's life.

    Kubernetes forbids any update of `spec.volumeClaimTemplates`, so a label that changes
    with an image bump (version), a re-org (owner, cost centre), a reclassification or a
    colour would make a routine change fail or force a replacement of a protected
    StatefulSet. https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/
    """
    return dict(
        sorted(
            {
                PART_OF: PART_OF_VALUE,
                MANAGED_BY: "pulumi",
                ENVIRONMENT: stack.environment,
                NAME: identity.service,
                COMPONENT: identity.component,
            }.items()
        )
    )
