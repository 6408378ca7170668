"""Docker runtime: one network per stack, workloads as containers on one Docker engine.

Creates, per stack: a Provider and a bridge Network. Per workload: a RemoteImage (once
per image), named Volumes, and a Container with a healthcheck, restart policy, env and
secret env, uploaded config files, ports published on 127.0.0.1 only, a read-only root
with tmpfs scratch dirs, all capabilities dropped, no-new-privileges and the labels.
"""

from __future__ import annotations

import posixpath

import pulumi
import pulumi_docker as docker

from components.runtime import labels
from components.runtime.base import DeployedWorkload, Runtime, content_hash
from components.runtime.images import PinnedImage
from components.runtime.quantities import cpu_cores, memory_bytes
from components.runtime.stack import SettingsModel, StackSettings
from components.runtime.workload import (
    Probe,
    ScratchDir,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)

LOOPBACK = "127.0.0.1"
VOLUME_INIT_MOUNT = "/volume"
FILES_MOUNT = "/files"
FILES_SIZE = "16Mi"
VOLUME_INIT_MEMORY_MIB = 64


class DockerSettings(SettingsModel):
    """Which Docker engine to talk to, and the helper image that prepares volumes."""

    host: str = "unix:///var/run/docker.sock"
    volume_init_image: PinnedImage = "docker.io/library/busybox:1.37.0"


class DockerRuntime(Runtime):
    """Renders workloads as containers on one Docker network."""

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: DockerSettings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:runtime:Docker", name, stack, opts)
        self.settings = settings
        self._target_provider = docker.Provider(
            f"{name}-provider", host=settings.host, opts=pulumi.ResourceOptions(parent=self)
        )
        self.network_name = f"{stack.prefix}-net"
        self.network = docker.Network(
            f"{name}-network",
            name=self.network_name,
            driver="bridge",
            labels=[
                docker.NetworkLabelArgs(label=k, value=v)
                for k, v in labels.stack_labels(stack).items()
            ],
            opts=pulumi.ResourceOptions(parent=self, provider=self._target_provider),
        )
        self._images: dict[str, docker.RemoteImage] = {}
        self.register_outputs({"network": self.network_name})

    @property
    def provider(self) -> pulumi.ProviderResource:
        """The stack's Docker provider."""
        return self._target_provider

    def internal_host(self, identity: WorkloadIdentity) -> str:
        """The colour-independent network alias `<service>-<component>`."""
        return identity.base_name

    def _image(self, image: str) -> docker.RemoteImage:
        """One RemoteImage per distinct image, shared by every workload that runs it."""
        if image not in self._images:
            slug = image.split("/")[-1].replace(":", "-").replace(".", "-").lower()
            self._images[image] = docker.RemoteImage(
                f"{self.stack.prefix}-image-{slug}",
                name=image,
                keep_locally=True,
                opts=pulumi.ResourceOptions(parent=self, provider=self._target_provider),
            )
        return self._images[image]

    def deploy(self, workload: Workload, *, parent: pulumi.Resource) -> DeployedWorkload:
        """Render `workload` as a container (plus its volumes) under `parent`."""
        identity = workload.identity
        prefix = f"{self.stack.prefix}-{identity.name}"
        stateful = workload.kind is WorkloadKind.STATEFUL
        protect = stateful and self.stack.is_prod
        object_labels = labels.workload_labels(
            self.stack,
            identity,
            data_classification=workload.data_classification,
            extra=workload.extra_labels,
        )
        mounts: list[docker.ContainerMountArgs] = []
        volumes: list[pulumi.Resource] = []
        for volume in workload.volumes:
            docker_volume = docker.Volume(
                f"{prefix}-{volume.name}",
                name=f"{prefix}-{volume.name}",
                labels=[
                    docker.VolumeLabelArgs(label=k, value=v)
                    for k, v in {
                        **object_labels,
                        "dataplatform.io/requested-size": volume.size,
                    }.items()
                ],
                opts=self.child_opts(parent, protect=protect),
            )
            volumes.append(docker_volume)
            volumes.append(self._volume_init(workload, prefix, volume.name, docker_volume, parent))
            mounts.append(
                docker.ContainerMountArgs(
                    target=volume.mount_path, type="volume", source=docker_volume.name
                )
            )
        envs: list[pulumi.Input[str]] = [f"{k}={v}" for k, v in sorted(workload.env.items())]
        envs += [
            pulumi.Output.secret(value).apply(lambda v, key=key: f"{key}={v}")
            for key, value in sorted(workload.secret_env.items())
        ]
        file_mounts, carrier = self._files(workload, prefix, object_labels, parent)
        mounts += file_mounts
        sec = workload.security
        container = docker.Container(
            prefix,
            name=prefix,
            image=self._image(workload.image).image_id,
            command=[*workload.command, *workload.args] or None,
            envs=envs or None,
            mounts=mounts or None,
            tmpfs={s.mount_path: _tmpfs_options(s) for s in workload.scratch} or None,
            ports=[
                docker.ContainerPortArgs(
                    internal=port.container_port,
                    external=port.admin_host_port,
                    ip=LOOPBACK,
                    protocol=port.protocol.lower(),
                )
                for port in workload.ports
                if port.admin_host_port is not None
            ]
            or None,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=self.network.name, aliases=[identity.base_name, identity.name]
                )
            ],
            healthcheck=_healthcheck(workload.readiness, workload.startup),
            restart="unless-stopped",
            user=f"{sec.run_as_user}:{sec.run_as_group}",
            read_only=sec.read_only_root_filesystem,
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=["no-new-privileges:true"],
            privileged=False,
            memory=memory_bytes(workload.resources.memory_limit) // 2**20,
            memory_reservation=memory_bytes(workload.resources.memory_request) // 2**20,
            cpus=f"{cpu_cores(workload.resources.cpu_limit):g}",
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in {**object_labels, labels.CONFIG_HASH: content_hash(workload)}.items()
            ],
            stop_timeout=workload.termination_grace_period_seconds,
            wait=True,
            wait_timeout=300,
            opts=pulumi.ResourceOptions.merge(
                self.child_opts(
                    parent, depends_on=[self.network, *volumes, *([carrier] if carrier else [])]
                ),
                # New file contents arrive in a new carrier: restart the server with them.
                pulumi.ResourceOptions(replacement_trigger=carrier.id if carrier else None),
            ),
        )
        return DeployedWorkload(
            identity=identity,
            internal=self.endpoints(identity, workload.ports),
            resources=(container,),
        )

    def _files(
        self,
        workload: Workload,
        prefix: str,
        object_labels: dict[str, str],
        parent: pulumi.Resource,
    ) -> tuple[list[docker.ContainerMountArgs], docker.Container | None]:
        """Config and secret files, delivered read-only through a volume.

        Docker refuses to copy files into a container whose root filesystem is read-only,
        so the files are uploaded into a per-workload volume through a carrier container
        that is created and never started; the server mounts one sub-path of that volume,
        read-only, per directory (Docker Engine 26+).
        """
        files: list[tuple[str, pulumi.Input[str]]] = [
            (f.path, f.content) for f in workload.config_files
        ]
        files += [(f.path, pulumi.Output.secret(f.content)) for f in workload.secret_files]
        if not files:
            return [], None
        # The volume holds credentials whenever secret files are among the files.
        classification = "restricted" if workload.secret_files else "internal"
        files_labels = {
            **object_labels,
            labels.DATA_CLASSIFICATION: workload.data_classification or classification,
        }
        volume = docker.Volume(
            f"{prefix}-files",
            name=f"{prefix}-files",
            labels=[
                docker.VolumeLabelArgs(label=k, value=v)
                for k, v in {**files_labels, "dataplatform.io/requested-size": FILES_SIZE}.items()
            ],
            opts=self.child_opts(parent),
        )
        sec = workload.security
        carrier = docker.Container(
            f"{prefix}-files",
            name=f"{prefix}-files",
            image=self._image(self.settings.volume_init_image).image_id,
            command=["true"],
            start=False,
            must_run=False,
            restart="no",
            user=f"{sec.run_as_user}:{sec.run_as_group}",
            network_mode="none",
            read_only=True,
            privileged=False,
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            security_opts=["no-new-privileges:true"],
            memory=VOLUME_INIT_MEMORY_MIB,
            cpus="0.25",
            mounts=[
                docker.ContainerMountArgs(target=FILES_MOUNT, type="volume", source=volume.name)
            ],
            uploads=[
                docker.ContainerUploadArgs(
                    file=f"{FILES_MOUNT}/{_directory_key(path)}/{posixpath.basename(path)}",
                    content=content,
                    permissions="0444",
                )
                for path, content in sorted(files, key=lambda item: item[0])
            ],
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in files_labels.items()],
            opts=self.child_opts(parent, depends_on=[volume]),
        )
        mounts = [
            docker.ContainerMountArgs(
                target=directory,
                type="volume",
                source=volume.name,
                read_only=True,
                volume_options=docker.ContainerMountVolumeOptionsArgs(
                    subpath=_directory_key(directory + "/")
                ),
            )
            for directory in sorted({posixpath.dirname(path) for path, _ in files})
        ]
        return mounts, carrier

    def _volume_init(
        self,
        workload: Workload,
        prefix: str,
        volume_name: str,
        volume: docker.Volume,
        parent: pulumi.Resource,
    ) -> docker.Container:
        """A one-shot container that hands a fresh volume to the workload's non-root user.

        Docker creates named volumes owned by root, and a non-root server cannot write to
        them; Kubernetes solves this with fsGroup, Docker has no equivalent. The helper
        runs once (attached, not restarted), with no network and only CAP_CHOWN.
        """
        sec = workload.security
        group = sec.fs_group if sec.fs_group is not None else sec.run_as_group
        init_labels = labels.workload_labels(
            self.stack,
            WorkloadIdentity(
                service=workload.identity.service,
                component=f"{workload.identity.component}-volume-init",
                version=workload.identity.version,
            ),
            data_classification=workload.data_classification,
        )
        return docker.Container(
            f"{prefix}-{volume_name}-init",
            name=f"{prefix}-{volume_name}-init",
            image=self._image(self.settings.volume_init_image).image_id,
            command=["chown", "-R", f"{sec.run_as_user}:{group}", VOLUME_INIT_MOUNT],
            mounts=[
                docker.ContainerMountArgs(
                    target=VOLUME_INIT_MOUNT, type="volume", source=volume.name
                )
            ],
            user="0:0",
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["CHOWN"]),
            security_opts=["no-new-privileges:true"],
            network_mode="none",
            read_only=True,
            privileged=False,
            memory=VOLUME_INIT_MEMORY_MIB,
            cpus="0.25",
            must_run=False,
            attach=True,
            restart="no",
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in init_labels.items()],
            opts=self.child_opts(parent, depends_on=[volume]),
        )


def _directory_key(path: str) -> str:
    """The volume sub-path holding a file's directory: `/etc/trino/x` -> `etc-trino`."""
    return posixpath.dirname(path).strip("/").replace("/", "-")


def _tmpfs_options(scratch: ScratchDir) -> str:
    exec_flag = "exec" if scratch.executable else "noexec"
    return f"rw,{exec_flag},nosuid,nodev,size={memory_bytes(scratch.size_limit)}"


def _healthcheck(probe: Probe, startup: Probe | None) -> docker.ContainerHealthcheckArgs:
    """Docker's healthcheck: the readiness command; a startup probe becomes the start period.

    Docker has one healthcheck and no startup probe: failures during `start_period` do not
    count, which is what a Kubernetes startup probe gives a slow starter.
    """
    if not probe.exec_command:
        raise ValueError("a Docker workload needs a probe with exec_command for its healthcheck")
    start_period = startup.budget_seconds if startup else probe.initial_delay_seconds
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *probe.exec_command],
        interval=f"{probe.period_seconds}s",
        timeout=f"{probe.timeout_seconds}s",
        retries=probe.failure_threshold,
        start_period=f"{start_period}s",
    )
