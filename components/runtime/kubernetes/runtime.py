"""The Kubernetes runtime: the stack's namespace, and each workload rendered into it."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.runtime import labels
from components.runtime.base import AdminAddress, DeployedWorkload, Runtime
from components.runtime.kubernetes import controllers, files, identity, network, services
from components.runtime.kubernetes.placement import Placement
from components.runtime.kubernetes.settings import KubernetesSettings
from components.runtime.stack import StackSettings
from components.runtime.workload import Workload, WorkloadIdentity, WorkloadKind

core = k8s.core.v1
meta = k8s.meta.v1


class KubernetesRuntime(Runtime):
    """Renders workloads into one namespace of a Kubernetes cluster.

    Creates, per stack: a Provider, a Namespace enforcing the "restricted" Pod Security
    Standard, a default-deny NetworkPolicy and a DNS egress allowance. Per workload: a
    ConfigMap and a Secret for its files, a ServiceAccount (with RBAC only when it calls
    the API), its controller (Deployment, StatefulSet with a headless Service, Job or
    CronJob), a Service for servers, NetworkPolicies from its declared connections and
    admin ports, and a PodDisruptionBudget for replicated servers.
    """

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: KubernetesSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:runtime:Kubernetes", name, stack, opts)
        self.settings = settings
        self.namespace_name = stack.prefix
        self._target_provider = k8s.Provider(
            f"{name}-provider",
            context=settings.context,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = core.Namespace(
            f"{name}-namespace",
            metadata=meta.ObjectMetaArgs(
                name=self.namespace_name,
                labels={
                    **labels.stack_labels(stack),
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            ),
            opts=pulumi.ResourceOptions(
                parent=self, provider=self._target_provider, protect=stack.is_prod
            ),
        )
        network.namespace_policies(
            name,
            namespace=self.namespace_name,
            object_labels=labels.stack_labels(stack),
            dns_namespace=settings.dns_namespace,
            opts=pulumi.ResourceOptions(
                parent=self, provider=self._target_provider, depends_on=[self.namespace]
            ),
        )
        self.register_outputs({"namespace": self.namespace_name})

    @property
    def provider(self) -> pulumi.ProviderResource:
        """The stack's Kubernetes provider."""
        return self._target_provider

    def internal_host(self, identity: WorkloadIdentity) -> str:
        """`<service>-<component>.<namespace>.svc.<cluster-domain>`."""
        return f"{identity.base_name}.{self.namespace_name}.svc.{self.settings.cluster_domain}"

    def _place(self, workload: Workload, parent: pulumi.Resource) -> Placement:
        return Placement(
            stack=self.stack,
            namespace=self.namespace_name,
            namespace_resource=self.namespace,
            workload=workload,
            parent=parent,
            provider=self._target_provider,
        )

    def deploy(
        self,
        workload: Workload,
        *,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> DeployedWorkload:
        """Render `workload` (and, for an uncoloured server, its Service) under `parent`.

        Raises ValueError for a workload that asks for the Docker engine's socket.
        """
        if workload.engine_socket:
            raise ValueError(
                f"workload {workload.identity.name}: the engine socket exists on Docker only"
            )
        place = self._place(workload, parent)
        config_map = files.config_map(place)
        secret = files.secret(place)
        accounts = identity.service_account(place)
        stateful = workload.kind is WorkloadKind.STATEFUL
        governing = services.headless_service(place) if stateful else None
        controller = controllers.controller(
            place,
            kind=workload.kind,
            governing_service=governing,
            storage_class=self.settings.storage_class,
            # Pods start only once the files they mount exist in their current version.
            opts=place.options(
                protect=stateful and self.stack.is_prod,
                depends_on=[r for r in (config_map, secret, *accounts, *after) if r is not None],
            ),
        )
        controllers.disruption_budget(place)
        network.workload_policies(place, admin_cidrs=self.settings.admin_cidrs)
        if workload.api_access is not None:
            network.api_server_egress(
                place, cidrs=self.settings.api_server_cidrs, ports=self.settings.api_server_ports
            )
        resources: list[pulumi.Resource] = [controller]
        # A server without ports (a daemon) has nothing to address: no Service.
        if workload.kind.long_running and workload.identity.color is None and workload.ports:
            resources.append(services.stable_service(place, live_color=None))
        return DeployedWorkload(
            identity=workload.identity,
            internal=self.endpoints(workload.identity, workload.ports),
            resources=tuple(resources),
        )

    def control_plane_address(
        self,
        workload: Workload,
        deployed: DeployedWorkload,
        *,
        port_name: str,
        parent: pulumi.Resource,
        fixed_host: str | None = None,
    ) -> AdminAddress:
        """An internal load balancer to the admin port; its address is the provider's host."""
        port = self.admin_port(workload, port_name)
        if fixed_host is not None:
            assert port.admin_host_port is not None
            return AdminAddress(
                host=fixed_host, port=port.admin_host_port, ready=tuple(deployed.resources)
            )
        service = services.admin_service(
            self._place(workload, parent),
            port=port,
            source_ranges=self.settings.admin_cidrs,
            annotations=self.settings.admin_load_balancer_annotations,
        )
        return AdminAddress(
            host=services.load_balancer_host(service),
            port=port.container_port,
            ready=(*deployed.resources, service),
        )

    def service(
        self, workload: Workload, *, parent: pulumi.Resource, live_color: str | None
    ) -> k8s.core.v1.Service:
        """The stable Service of a workload; under blue-green it selects the live colour."""
        return services.stable_service(self._place(workload, parent), live_color=live_color)
