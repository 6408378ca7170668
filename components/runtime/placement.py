"""What every rendered resource of one workload shares, whichever the target."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.runtime import labels
from components.runtime.stack import StackSettings
from components.runtime.workload import Workload


@dataclass(frozen=True, kw_only=True)
class WorkloadPlacement:
    """A workload, the stack it belongs to, the component it renders under, the provider."""

    stack: StackSettings
    workload: Workload
    parent: pulumi.Resource
    provider: pulumi.ProviderResource

    @property
    def prefix(self) -> str:
        """`<stack-prefix>-<workload>`: the logical-name prefix of its resources."""
        return f"{self.stack.prefix}-{self.workload.identity.name}"

    @property
    def labels(self) -> dict[str, str]:
        """The full label set (DESIGN.md vocabulary) of the workload's resources."""
        return labels.workload_labels(
            self.stack,
            self.workload.identity,
            data_classification=self.workload.data_classification,
            extra=self.workload.extra_labels,
        )
