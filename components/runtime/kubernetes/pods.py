"""Pod templates: containers (init and main), env, files, probes, resources and security.

Every pod runs as its non-root identity with the restricted Pod Security Standard's
settings; files arrive as read-only projected volumes; the template carries a digest of
every file and secret the pod reads, so a change of any of them rolls the pods.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict

import pulumi_kubernetes as k8s

from components.runtime import labels
from components.runtime.base import content_hash
from components.runtime.kubernetes.files import (
    config_map_name,
    env_key,
    key_items,
    secret_name,
)
from components.runtime.quantities import memory_bytes
from components.runtime.workload import InitStep, Probe, Workload, WorkloadKind

core = k8s.core.v1
meta = k8s.meta.v1

EPHEMERAL_REQUEST = "256Mi"
LOG_HEADROOM_MIB = 512
INIT_RESOURCES = {"cpu": "100m", "memory": "128Mi", "ephemeral-storage": "64Mi"}


def pod_template(workload: Workload, object_labels: dict[str, str]) -> core.PodTemplateSpecArgs:
    """The pod template of `workload`, labelled and annotated with its config digest."""
    return core.PodTemplateSpecArgs(
        metadata=meta.ObjectMetaArgs(
            labels=object_labels,
            annotations={labels.CONFIG_HASH: content_hash(workload)},
        ),
        spec=pod_spec(workload),
    )


def pod_spec(workload: Workload) -> core.PodSpecArgs:
    """The pod spec: init containers, the container, volumes and the pod security context."""
    sec = workload.security
    volumes, mounts = _volumes(workload)
    return core.PodSpecArgs(
        service_account_name=workload.identity.name,
        automount_service_account_token=workload.api_access is not None,
        enable_service_links=False,
        restart_policy=None if workload.kind.long_running else "OnFailure",
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
        init_containers=[_init_container(workload, step, mounts) for step in workload.init] or None,
        containers=[_container(workload, mounts)],
        volumes=volumes or None,
    )


def _container(workload: Workload, mounts: list[core.VolumeMountArgs]) -> core.ContainerArgs:
    return core.ContainerArgs(
        name=workload.identity.component,
        image=workload.image,
        # Always: the registry re-authorises every pull, so a cached image is never used
        # by a pod whose credentials could not pull it (tags are pinned, so no drift).
        image_pull_policy="Always",
        command=list(workload.command) or None,
        args=list(workload.args) or None,
        env=_env(workload, {}) or None,
        ports=[
            core.ContainerPortArgs(
                name=port.name, container_port=port.container_port, protocol=port.protocol
            )
            for port in workload.ports
        ]
        or None,
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
        readiness_probe=probe(workload.readiness) if workload.readiness else None,
        liveness_probe=probe(workload.liveness) if workload.liveness else None,
        startup_probe=probe(workload.startup) if workload.startup else None,
        lifecycle=lifecycle(workload),
        volume_mounts=mounts or None,
        security_context=_container_security(workload),
    )


def _init_container(
    workload: Workload, step: InitStep, mounts: list[core.VolumeMountArgs]
) -> core.ContainerArgs:
    """An init container: the workload's identity, files and volumes, small fixed resources."""
    return core.ContainerArgs(
        name=step.name,
        image=step.image or workload.image,
        image_pull_policy="Always",
        command=list(step.command),
        env=_env(workload, step.env) or None,
        resources=core.ResourceRequirementsArgs(requests=INIT_RESOURCES, limits=INIT_RESOURCES),
        volume_mounts=mounts or None,
        security_context=_container_security(workload),
    )


def _container_security(workload: Workload) -> core.SecurityContextArgs:
    sec = workload.security
    return core.SecurityContextArgs(
        allow_privilege_escalation=False,
        privileged=False,
        read_only_root_filesystem=sec.read_only_root_filesystem,
        run_as_non_root=True,
        run_as_user=sec.run_as_user,
        run_as_group=sec.run_as_group,
        capabilities=core.CapabilitiesArgs(drop=["ALL"]),
        seccomp_profile=core.SeccompProfileArgs(type="RuntimeDefault"),
    )


def _env(workload: Workload, extra: dict[str, str]) -> list[core.EnvVarArgs]:
    """Plain env, then secret env by reference (only for images with no file option)."""
    plain = {**workload.env, **extra}
    env = [core.EnvVarArgs(name=k, value=v) for k, v in sorted(plain.items())]
    env += [
        core.EnvVarArgs(
            name=key,
            value_from=core.EnvVarSourceArgs(
                secret_key_ref=core.SecretKeySelectorArgs(
                    name=secret_name(workload.identity.name), key=env_key(key)
                )
            ),
        )
        for key in sorted(workload.secret_env)
    ]
    return env


def _volumes(workload: Workload) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """File volumes, then scratch dirs (emptyDir), then the persistent volumes' mounts."""
    volumes, mounts = _file_volumes(workload)
    for scratch in workload.scratch:
        volumes.append(
            core.VolumeArgs(
                name=scratch.name,
                empty_dir=core.EmptyDirVolumeSourceArgs(size_limit=scratch.size_limit),
            )
        )
        mounts.append(core.VolumeMountArgs(name=scratch.name, mount_path=scratch.mount_path))
    mounts += [core.VolumeMountArgs(name=v.name, mount_path=v.mount_path) for v in workload.volumes]
    return volumes, mounts


def _file_volumes(workload: Workload) -> tuple[list[core.VolumeArgs], list[core.VolumeMountArgs]]:
    """One read-only projected volume per directory, combining its config and secret files."""
    config_by_dir: dict[str, list[str]] = defaultdict(list)
    secret_by_dir: dict[str, list[str]] = defaultdict(list)
    for config_file in workload.config_files:
        config_by_dir[posixpath.dirname(config_file.path)].append(config_file.path)
    for secret_file in workload.secret_files:
        secret_by_dir[posixpath.dirname(secret_file.path)].append(secret_file.path)
    volumes: list[core.VolumeArgs] = []
    mounts: list[core.VolumeMountArgs] = []
    name = workload.identity.name
    for index, directory in enumerate(sorted({*config_by_dir, *secret_by_dir})):
        sources: list[core.VolumeProjectionArgs] = []
        if config_by_dir.get(directory):
            sources.append(
                core.VolumeProjectionArgs(
                    config_map=core.ConfigMapProjectionArgs(
                        name=config_map_name(name), items=key_items(config_by_dir[directory])
                    )
                )
            )
        if secret_by_dir.get(directory):
            sources.append(
                core.VolumeProjectionArgs(
                    secret=core.SecretProjectionArgs(
                        name=secret_name(name), items=key_items(secret_by_dir[directory])
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
        mounts.append(core.VolumeMountArgs(name=volume_name, mount_path=directory, read_only=True))
    return volumes, mounts


def _ephemeral_limit(workload: Workload) -> str:
    """Scratch dirs (emptyDir) plus headroom for container logs and writable layers."""
    scratch = sum(memory_bytes(s.size_limit) for s in workload.scratch) // 2**20
    return f"{scratch + LOG_HEADROOM_MIB}Mi"


def _spread(workload: Workload) -> list[core.TopologySpreadConstraintArgs] | None:
    """Replicas prefer distinct nodes, so one node loss never takes a whole tier down."""
    if workload.replicas < 2 or workload.kind not in (
        WorkloadKind.STATELESS,
        WorkloadKind.STATEFUL,
    ):
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


def probe(spec: Probe) -> core.ProbeArgs:
    """The Kubernetes form of a probe: exec when it has a command, else HTTP GET or TCP."""
    exec_action = (
        core.ExecActionArgs(command=list(spec.exec_command)) if spec.exec_command else None
    )
    http = None
    if not exec_action and spec.path:
        http = core.HTTPGetActionArgs(path=spec.path, port=spec.port, scheme=spec.scheme)
    return core.ProbeArgs(
        exec_=exec_action,
        http_get=http,
        tcp_socket=None if exec_action or http else core.TCPSocketActionArgs(port=spec.port),
        initial_delay_seconds=spec.initial_delay_seconds,
        period_seconds=spec.period_seconds,
        timeout_seconds=spec.timeout_seconds,
        failure_threshold=spec.failure_threshold,
    )


def lifecycle(workload: Workload) -> core.LifecycleArgs | None:
    """A preStop hook for servers that drain before they stop."""
    if not workload.pre_stop:
        return None
    return core.LifecycleArgs(
        pre_stop=core.LifecycleHandlerArgs(
            exec_=core.ExecActionArgs(command=list(workload.pre_stop))
        )
    )
