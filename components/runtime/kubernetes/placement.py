"""What one workload's Kubernetes objects share: namespace, names, labels and options."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.runtime.placement import WorkloadPlacement

meta = k8s.meta.v1


@dataclass(frozen=True, kw_only=True)
class Placement(WorkloadPlacement):
    """Where a workload's objects go and how they are named, labelled and parented.

    `prefix` is the Pulumi logical-name prefix (`<stack-prefix>-<workload>`); Kubernetes
    object names are the workload's own name plus a suffix. Every object is parented under
    the service component (`parent`), on the stack's `provider`, after the `namespace`.
    """

    namespace: str
    namespace_resource: pulumi.Resource

    @property
    def name(self) -> str:
        """The workload's Kubernetes object name: `<service>-<component>[-<color>]`."""
        return self.workload.identity.name

    def meta(self, name: str, object_labels: dict[str, str] | None = None) -> meta.ObjectMetaArgs:
        """Metadata of a namespaced object named `name` (the workload's labels by default)."""
        return meta.ObjectMetaArgs(
            name=name,
            namespace=self.namespace,
            labels=self.labels if object_labels is None else object_labels,
        )

    def options(
        self, *, protect: bool = False, depends_on: list[pulumi.Resource] | None = None
    ) -> pulumi.ResourceOptions:
        """Options of one object: parented, on the provider, after the namespace and `depends_on`."""
        return pulumi.ResourceOptions(
            parent=self.parent,
            protect=protect,
            depends_on=[self.namespace_resource, *(depends_on or [])],
            provider=self.provider,
        )
