"""What one workload's Docker resources share: names, labels, options and the image cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.runtime.placement import WorkloadPlacement


@dataclass(frozen=True, kw_only=True)
class Placement(WorkloadPlacement):
    """Where a workload's resources go: parented under its component, on the stack's engine.

    `image` returns the shared `RemoteImage` of an image reference (one per distinct image).
    """

    network: docker.Network
    image: Callable[[str], docker.RemoteImage]
    helper_image: str

    def options(
        self, *, protect: bool = False, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options of one resource: parented, on the stack's Docker provider."""
        return pulumi.ResourceOptions(
            parent=self.parent, protect=protect, depends_on=depends_on or [], provider=self.provider
        )
