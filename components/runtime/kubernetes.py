"""Kubernetes runtime: one namespace per stack, workloads as Deployments or StatefulSets.

Creates, per stack: a Provider, a Namespace enforcing the "restricted" Pod Security
Standard, a default-deny NetworkPolicy and a DNS egress allowance. Per workload: a
ConfigMap (config files), a Secret (secret env and files), a Deployment or StatefulSet
(volume claim templates), a Service, NetworkPolicies derived from declared connections
and admin access, and a PodDisruptionBudget when replicas > 1.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s
from pydantic import Field

from components.runtime import labels
from components.runtime.base import DeployedWorkload, Runtime, content_hash
from components.runtime.quantities import memory_bytes
from components.runtime.stack import SettingsModel, StackSettings
from components.runtime.workload import (
    Connection,
    Probe,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)

core = k8s.core.v1
apps = k8s.apps.v1
meta = k8s.meta.v1
networking = k8s.networking.v1
policy = k8s.policy.v1


class KubernetesSettings(SettingsModel):
    """Where and how the Kubernetes runtime deploys: context, storage class, admin network."""

    context: str | None = None
    storage_class: str | None = None
    cluster_domain: str = "cluster.local"
    admin_cidrs: tuple[str, ...] = Field(default=(), description="CIDRs allowed to admin ports")
    dns_namespace: str = "kube-system"


class KubernetesRuntime(Runtime):
    """Renders workloads into one namespace of a Kubernetes cluster."""

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
        self._runtime_name = name
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
        self._namespace_policies()
        self.register_outputs({"namespace": self.namespace_name})

    @property
    def provider(self) -> pulumi.ProviderResource:
        """The stack's Kubernetes provider."""
        return self._target_provider

    def internal_host(self, identity: WorkloadIdentity) -> str:
        """`<service>-<component>.<namespace>.svc.<cluster-domain>`."""
        return f"{identity.base_name}.{self.namespace_name}.svc.{self.settings.cluster_domain}"

    def _meta(self, name: str, object_labels: dict[str, str]) -> meta.ObjectMetaArgs:
        return meta.ObjectMetaArgs(name=name, namespace=self.namespace_name, labels=object_labels)

    def _namespace_policies(self) -> None:
        opts = pulumi.ResourceOptions(
            parent=self, provider=self._target_provider, depends_on=[self.namespace]
        )
        stack_labels = labels.stack_labels(self.stack)
        networking.NetworkPolicy(
            f"{self._runtime_name}-default-deny",
            metadata=self._meta("default-deny-all", stack_labels),
            spec=networking.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(),
                policy_types=["Ingress", "Egress"],
            ),
            opts=opts,
        )
        dns_ports = [
            networking.NetworkPolicyPortArgs(port=53, protocol=protocol)
            for protocol in ("UDP", "TCP")
        ]
        networking.NetworkPolicy(
            f"{self._runtime_name}-allow-dns",
            metadata=self._meta("allow-dns-egress", stack_labels),
            spec=networking.NetworkPolicySpecArgs(
                pod_selector=meta.LabelSelectorArgs(),
                policy_types=["Egress"],
                egress=[
                    networking.NetworkPolicyEgressRuleArgs(
                        to=[
                            networking.NetworkPolicyPeerArgs(
                                namespace_selector=meta.LabelSelectorArgs(
                                    match_labels={
                                        "kubernetes.io/metadata.name": self.settings.dns_namespace
                                    }
                                ),
                                pod_selector=meta.LabelSelectorArgs(
                                    match_labels={"k8s-app": "kube-dns"}
                                ),
                            )
                        ],
                        ports=dns_ports,
                    )
                ],
            ),
            opts=opts,
        )

    def deploy(self, workload: Workload, *, parent: pulumi.Resource) -> DeployedWorkload:
        """Render `workload` (and its Service) as children of `parent`."""
        identity = workload.identity
        prefix = f"{self.stack.prefix}-{identity.name}"
        object_labels = labels.workload_labels(
            self.stack,
            identity,
            data_classification=workload.data_classification,
            extra=workload.extra_labels,
        )
        opts = self.child_opts(parent, depends_on=[self.namespace])
        config_map = self._config_map(workload, prefix, object_labels, opts)
        secret = self._secret(workload, prefix, object_labels, opts)
        # One identity per workload, with no API token: nothing here talks to the API server.
        account = core.ServiceAccount(
            f"{prefix}-account",
            metadata=self._meta(identity.name, object_labels),
            automount_service_account_token=False,
            opts=opts,
        )
        pod = self._pod_template(workload, object_labels, config_map, secret)
        stateful = workload.kind is WorkloadKind.STATEFUL
        depends = [r for r in (config_map, secret, account) if r is not None]
        workload_opts = self.child_opts(
            parent, protect=stateful and self.stack.is_prod, depends_on=[self.namespace, *depends]
        )
        selector = meta.LabelSelectorArgs(match_labels=labels.selector_labels(identity))
        controller: pulumi.Resource
        if stateful:
            governing = self._headless_service(workload, prefix, object_labels, opts)
            controller = apps.StatefulSet(
                prefix,
                metadata=self._meta(identity.name, object_labels),
                spec=apps.StatefulSetSpecArgs(
                    service_name=governing,
                    replicas=workload.replicas,
                    selector=selector,
                    template=pod,
                    pod_management_policy="OrderedReady",
                    update_strategy=apps.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
                    volume_claim_templates=[
                        core.PersistentVolumeClaimArgs(
                            metadata=meta.ObjectMetaArgs(
                                name=volume.name,
                                labels=labels.volume_claim_labels(self.stack, identity),
                            ),
                            spec=core.PersistentVolumeClaimSpecArgs(
                                access_modes=["ReadWriteOnce"],
                                storage_class_name=self.settings.storage_class,
                                resources=core.VolumeResourceRequirementsArgs(
                                    requests={"storage": volume.size}
                                ),
                            ),
                        )
                        for volume in workload.volumes
                    ],
                ),
                opts=workload_opts,
            )
        else:
            controller = apps.Deployment(
                prefix,
                metadata=self._meta(identity.name, object_labels),
                spec=apps.DeploymentSpecArgs(
                    replicas=workload.replicas,
                    selector=selector,
                    template=pod,
                    strategy=apps.DeploymentStrategyArgs(
                        type="RollingUpdate",
                        rolling_update=apps.RollingUpdateDeploymentArgs(
                            max_surge=1, max_unavailable=0
                        ),
                    ),
                ),
                opts=workload_opts,
            )
        if workload.replicas > 1:
            policy.PodDisruptionBudget(
                f"{prefix}-pdb",
                metadata=self._meta(identity.name, object_labels),
                spec=policy.PodDisruptionBudgetSpecArgs(max_unavailable=1, selector=selector),
                opts=opts,
            )
        self._network_policies(workload, prefix, object_labels, opts)
        resources: list[pulumi.Resource] = [controller]
        if identity.color is None:
            resources.append(self.service(workload, parent=parent, live_color=None))
        return DeployedWorkload(
            identity=identity,
            internal=self.endpoints(identity, workload.ports),
            resources=tuple(resources),
        )

    def _headless_service(
        self,
        workload: Workload,
        prefix: str,
        object_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> str:
        """The headless Service that gives a StatefulSet's pods stable DNS names."""
        name = f"{workload.identity.name}-headless"
        core.Service(
            f"{prefix}-headless",
            metadata=self._meta(name, object_labels),
            spec=core.ServiceSpecArgs(
                cluster_ip="None",
                publish_not_ready_addresses=True,
                selector=labels.selector_labels(workload.identity),
                ports=[
                    core.ServicePortArgs(
                        name=port.name,
                        port=port.container_port,
                        target_port=port.name,
                        protocol=port.protocol,
                    )
                    for port in workload.ports
                ],
            ),
            opts=opts,
        )
        return name

    def service(
        self, workload: Workload, *, parent: pulumi.Resource, live_color: str | None
    ) -> k8s.core.v1.Service:
        """The stable Service of a workload; under blue-green it selects the live colour."""
        identity = workload.identity
        selector = {labels.NAME: identity.service, labels.COMPONENT: identity.component}
        if live_color:
            selector[labels.COLOR] = live_color
        service_labels = labels.workload_labels(
            self.stack,
            WorkloadIdentity(
                service=identity.service, component=identity.component, version=identity.version
            ),
            data_classification=workload.data_classification,
        )
        return core.Service(
            f"{self.stack.prefix}-{identity.base_name}-service",
            metadata=self._meta(identity.base_name, service_labels),
            spec=core.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=[
                    core.ServicePortArgs(
                        name=port.name,
                        port=port.container_port,
                        target_port=port.name,
                        protocol=port.protocol,
                    )
                    for port in workload.ports
                ],
            ),
            opts=self.child_opts(parent, depends_on=[self.namespace]),
        )

    def _config_map(
        self,
        workload: Workload,
        prefix: str,
        object_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> core.ConfigMap | None:
        if not workload.config_files:
            return None
        return core.ConfigMap(
            f"{prefix}-config",
            metadata=self._meta(f"{workload.identity.name}-config", object_labels),
            data={_file_key(f.path): f.content for f in workload.config_files},
            opts=opts,
        )

    def _secret(
        self,
        workload: Workload,
        prefix: str,
        object_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> core.Secret | None:
        if not workload.secret_env and not workload.secret_files:
            return None
        string_data: dict[str, pulumi.Input[str]] = {}
        for key, value in sorted(workload.secret_env.items()):
            string_data[_env_key(key)] = pulumi.Output.secret(value)
        for secret_file in workload.secret_files:
            string_data[_file_key(secret_file.path)] = pulumi.Output.secret(secret_file.content)
        return core.Secret(
            f"{prefix}-secrets",
            metadata=self._meta(f"{workload.identity.name}-secrets", object_labels),
            type="Opaque",
            string_data=string_data,
            opts=opts,
        )

    def _pod_template(
        self,
        workload: Workload,
        object_labels: dict[str, str],
        config_map: core.ConfigMap | None,
        secret: core.Secret | None,
    ) -> core.PodTemplateSpecArgs:
        identity = workload.identity
        secret_name = f"{identity.name}-secrets"
        env = [core.EnvVarArgs(name=k, value=v) for k, v in sorted(workload.env.items())]
        env += [
            core.EnvVarArgs(
                name=key,
                value_from=core.EnvVarSourceArgs(
                    secret_key_ref=core.SecretKeySelectorArgs(name=secret_name, key=_env_key(key))
                ),
            )
            for key in sorted(workload.secret_env)
        ]
        volumes, mounts = self._file_volumes(workload, config_map, secret)
        for scratch in workload.scratch:
            volumes.append(
                core.VolumeArgs(
                    name=scratch.name,
                    empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=scratch.size_limit),
                )
            )
            mounts.append(core.VolumeMountArgs(name=scratch.name, mount_path=scratch.mount_path))
        mounts += [
            core.VolumeMountArgs(name=v.name, mount_path=v.mount_path) for v in workload.volumes
        ]
        sec = workload.security
        container = core.ContainerArgs(
            name=identity.component,
            image=workload.image,
            # Always: the registry re-authorises every pull, so a cached image is never used
            # by a pod whose credentials could not pull it (tags are pinned, so no drift).
            image_pull_policy="Always",
            command=list(workload.command) or None,
            args=list(workload.args) or None,
            env=env or None,
            ports=[
                core.ContainerPortArgs(
                    name=port.name, container_port=port.container_port, protocol=port.protocol
                )
                for port in workload.ports
            ],
            resources=core.ResourceRequirementsArgs(
                requests={
                    "cpu": workload.resources.cpu_request,
                    "memory": workload.resources.memory_request,
                    "ephemeral-storage": EPHEMERAL_REQUEST,
                },
                limits={
                    "cpu": workload.resources.cpu_limit,
                    "memory": workload.resources.memory_limit,
                    "ephemeral-storage": _ephemeral_limit(workload),
                },
            ),
            readiness_probe=_probe(workload.readiness),
            liveness_probe=_probe(workload.liveness),
            startup_probe=_probe(workload.startup) if workload.startup else None,
            lifecycle=_lifecycle(workload),
            volume_mounts=mounts or None,
            security_context=core.SecurityContextArgs(
                allow_privilege_escalation=False,
                privileged=False,
                read_only_root_filesystem=sec.read_only_root_filesystem,
                run_as_non_root=True,
                run_as_user=sec.run_as_user,
                run_as_group=sec.run_as_group,
                capabilities=core.CapabilitiesArgs(drop=["ALL"]),
                seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
            ),
        )
        return core.PodTemplateSpecArgs(
            metadata=meta.ObjectMetaArgs(
                labels=object_labels,
                annotations={labels.CONFIG_HASH: content_hash(workload)},
            ),
            spec=core.PodSpecArgs(
                service_account_name=identity.name,
                automount_service_account_token=False,
                enable_service_links=False,
                termination_grace_period_seconds=workload.termination_grace_period_seconds,
                topology_spread_constraints=_spread(workload),
                security_context=core.PodSecurityContextArgs(
                    run_as_non_root=True,
                    run_as_user=sec.run_as_user,
                    run_as_group=sec.run_as_group,
                    fs_group=sec.fs_group,
                    # Only walk the volume when its root has the wrong group: a recursive
                    # chown/chmod on every mount is slow on big volumes and makes data
                    # directories group-writable, which PostgreSQL refuses to start with.
                    fs_group_change_policy="OnRootMismatch" if sec.fs_group is not None else None,
                    seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
                ),
                containers=[container],
                volumes=volumes or None,
            ),
        )

    def _file_volumes(
        self,
        workload: Workload,
        config_map: core.ConfigMap | None,
        secret: core.Secret | None,
    ) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
        """One projected volume per directory, combining its config and secret files."""
        config_by_dir: dict[str, list[str]] = defaultdict(list)
        secret_by_dir: dict[str, list[str]] = defaultdict(list)
        for config_file in workload.config_files:
            config_by_dir[posixpath.dirname(config_file.path)].append(config_file.path)
        for secret_file in workload.secret_files:
            secret_by_dir[posixpath.dirname(secret_file.path)].append(secret_file.path)
        volumes: list[core.VolumeArgs] = []
        mounts: list[core.VolumeMountArgs] = []
        for index, directory in enumerate(sorted({*config_by_dir, *secret_by_dir})):
            sources: list[core.VolumeProjectionArgs] = []
            if config_by_dir.get(directory) and config_map is not None:
                sources.append(
                    core.VolumeProjectionArgs(
                        config_map=core.ConfigMapProjectionArgs(
                            name=f"{workload.identity.name}-config",
                            items=_items(config_by_dir[directory]),
                        )
                    )
                )
            if secret_by_dir.get(directory) and secret is not None:
                sources.append(
                    core.VolumeProjectionArgs(
                        secret=core.SecretProjectionArgs(
                            name=f"{workload.identity.name}-secrets",
                            items=_items(secret_by_dir[directory]),
                        )
                    )
                )
            volume_name = f"files-{index}"
            volumes.append(
                core.VolumeArgs(
                    name=volume_name,
                    projected=core.ProjectedVolumeSourceArgs(sources=sources, default_mode=0o440),
                )
            )
            mounts.append(
                core.VolumeMountArgs(name=volume_name, mount_path=directory, read_only=True)
            )
        return volumes, mounts

    def _network_policies(
        self,
        workload: Workload,
        prefix: str,
        object_labels: dict[str, str],
        opts: pulumi.ResourceOptions,
    ) -> None:
        identity = workload.identity
        own = _service_selector(identity.service, identity.component)
        if workload.connections:
            networking.NetworkPolicy(
                f"{prefix}-egress",
                metadata=self._meta(f"{identity.name}-egress", object_labels),
                spec=networking.NetworkPolicySpecArgs(
                    pod_selector=meta.LabelSelectorArgs(
                        match_labels=labels.selector_labels(identity)
                    ),
                    policy_types=["Egress"],
                    egress=[_egress_rule(connection) for connection in workload.connections],
                ),
                opts=opts,
            )
        for connection in workload.connections:
            target = f"{connection.service}-{connection.component}"
            networking.NetworkPolicy(
                f"{prefix}-to-{target}",
                metadata=self._meta(f"{identity.name}-to-{target}", object_labels),
                spec=networking.NetworkPolicySpecArgs(
                    pod_selector=_service_selector(connection.service, connection.component),
                    policy_types=["Ingress"],
                    ingress=[
                        networking.NetworkPolicyIngressRuleArgs(
                            from_=[networking.NetworkPolicyPeerArgs(pod_selector=own)],
                            ports=[
                                networking.NetworkPolicyPortArgs(
                                    port=connection.port, protocol="TCP"
                                )
                            ],
                        )
                    ],
                ),
                opts=opts,
            )
        admin_ports = [p for p in workload.ports if p.admin_host_port is not None]
        if admin_ports and self.settings.admin_cidrs:
            networking.NetworkPolicy(
                f"{prefix}-admin-ingress",
                metadata=self._meta(f"{identity.name}-admin-ingress", object_labels),
                spec=networking.NetworkPolicySpecArgs(
                    pod_selector=own,
                    policy_types=["Ingress"],
                    ingress=[
                        networking.NetworkPolicyIngressRuleArgs(
                            from_=[
                                networking.NetworkPolicyPeerArgs(
                                    ip_block=networking.IPBlockArgs(cidr=cidr)
                                )
                                for cidr in self.settings.admin_cidrs
                            ],
                            ports=[
                                networking.NetworkPolicyPortArgs(
                                    port=p.container_port, protocol=p.protocol
                                )
                                for p in admin_ports
                            ],
                        )
                    ],
                ),
                opts=opts,
            )


EPHEMERAL_REQUEST = "256Mi"
LOG_HEADROOM_MIB = 512


def _ephemeral_limit(workload: Workload) -> str:
    """Scratch dirs (emptyDir) plus headroom for container logs and writable layers."""
    scratch = sum(memory_bytes(s.size_limit) for s in workload.scratch) // 2**20
    return f"{scratch + LOG_HEADROOM_MIB}Mi"


def _spread(workload: Workload) -> list[core.TopologySpreadConstraintArgs] | None:
    """Replicas prefer distinct nodes, so one node loss never takes a whole tier down."""
    if workload.replicas < 2:
        return None
    return [
        core.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key="kubernetes.io/hostname",
            when_unsatisfiable="ScheduleAnyway",
            label_selector=meta.LabelSelectorArgs(
                match_labels=labels.selector_labels(workload.identity)
            ),
        )
    ]


def _service_selector(service: str, component: str) -> meta.LabelSelectorArgs:
    return meta.LabelSelectorArgs(match_labels={labels.NAME: service, labels.COMPONENT: component})


def _egress_rule(connection: Connection) -> networking.NetworkPolicyEgressRuleArgs:
    return networking.NetworkPolicyEgressRuleArgs(
        to=[
            networking.NetworkPolicyPeerArgs(
                pod_selector=_service_selector(connection.service, connection.component)
            )
        ],
        ports=[networking.NetworkPolicyPortArgs(port=connection.port, protocol="TCP")],
    )


def _probe(probe: Probe) -> core.ProbeArgs:
    """The Kubernetes form of a probe: exec when it has a command, else HTTP GET or TCP."""
    exec_action = (
        core.ExecActionArgs(command=list(probe.exec_command)) if probe.exec_command else None
    )
    http = None
    if not exec_action and probe.path:
        http = core.HTTPGetActionArgs(path=probe.path, port=probe.port, scheme=probe.scheme)
    return core.ProbeArgs(
        exec_=exec_action,
        http_get=http,
        tcp_socket=None if exec_action or http else core.TCPSocketActionArgs(port=probe.port),
        initial_delay_seconds=probe.initial_delay_seconds,
        period_seconds=probe.period_seconds,
        timeout_seconds=probe.timeout_seconds,
        failure_threshold=probe.failure_threshold,
    )


def _lifecycle(workload: Workload) -> core.LifecycleArgs | None:
    """A preStop hook for servers that drain before they stop."""
    if not workload.pre_stop:
        return None
    return core.LifecycleArgs(
        pre_stop=core.LifecycleHandlerArgs(
            exec_=core.ExecActionArgs(command=list(workload.pre_stop))
        )
    )


def _file_key(path: str) -> str:
    """ConfigMap/Secret key of a file: `/etc/trino/config.properties` -> `etc-trino-config.properties`."""
    return path.strip("/").replace("/", "-")


def _env_key(name: str) -> str:
    return f"env-{name.lower().replace('_', '-')}"


def _items(paths: Sequence[str]) -> list[core.KeyToPathArgs]:
    return [core.KeyToPathArgs(key=_file_key(p), path=posixpath.basename(p)) for p in sorted(paths)]
