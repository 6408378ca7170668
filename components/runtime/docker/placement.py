"""What one workload's Docker resources share: names, labels, options and the image cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.runtime import labels
from components.runtime.stack import StackSettings
from components.runtime.workload import Workload


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where a workload's resources go: parented under its component, on the stack's engine.

    `image` returns the shared `RemoteImage` of an image reference (one per distinct image).
    """

    stack: StackSettings
    workload: Workload
    parent: pulumi.Resource
    provider: pulumi.ProviderResource
    network: docker.Network
    image: Callable[[str], docker.RemoteImage]
    helper_image: str

    @property
    def prefix(self) -> str:
        """`<stack-prefix>-<workload>`: the logical and container name prefix."""
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

    def options(
        self, *, protect: bool = False, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options of one resource: parented, on the stack's Docker provider."""
        return pulumi.ResourceOptions(
            parent=self.parent, protect=protect, depends_on=depends_on or [], provider=self.provider
        )
