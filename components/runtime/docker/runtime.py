"""The Docker runtime: provider, network and images of a stack, and each workload's containers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_docker as docker

from components.runtime import labels
from components.runtime.base import AdminAddress, DeployedWorkload, Runtime, content_hash
from components.runtime.docker import containers
from components.runtime.docker.files import files_volume
from components.runtime.docker.placement import Placement
from components.runtime.docker.settings import DockerSettings
from components.runtime.docker.volumes import data_volumes
from components.runtime.schedule import sleep_loop
from components.runtime.stack import StackSettings
from components.runtime.workload import Workload, WorkloadIdentity, WorkloadKind

LOOPBACK = "127.0.0.1"
WAIT_TIMEOUT_SECONDS = 300


class DockerRuntime(Runtime):
    """Renders workloads as containers on one Docker network.

    Creates, per stack: a Provider and a bridge Network. Per workload: a RemoteImage (once
    per image), named Volumes, one-shot init containers, and a container with a
    healthcheck (servers), restart policy, env, files through a read-only volume, ports
    published on 127.0.0.1 only, a read-only root with tmpfs scratch dirs, all
    capabilities dropped, no-new-privileges and the labels. Jobs run once (attached);
    scheduled workloads run in a container that sleeps between runs.
    """

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

    def deploy(
        self,
        workload: Workload,
        *,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> DeployedWorkload:
        """Render `workload` as a container (plus volumes, files and init steps) under `parent`."""
        place = Placement(
            stack=self.stack,
            workload=workload,
            parent=parent,
            provider=self._target_provider,
            network=self.network,
            image=self._image,
            helper_image=self.settings.volume_init_image,
        )
        mounts, volumes = data_volumes(place)
        file_mounts, carrier = files_volume(place)
        mounts += file_mounts
        if workload.engine_socket:
            mounts.append(containers.engine_socket_mount())
        ready = [*volumes, *([carrier] if carrier else [])]
        for index in range(len(workload.init)):
            # Init steps run one after another, as Kubernetes runs init containers.
            ready.append(self._init_step(place, index, mounts, list(ready), carrier))
        container = docker.Container(
            place.prefix,
            name=place.prefix,
            image=self._image(workload.image).image_id,
            mounts=mounts or None,
            **self._run_arguments(place),
            opts=pulumi.ResourceOptions.merge(
                place.options(depends_on=[self.network, *ready, *after]),
                # New file contents arrive in a new carrier: restart the server with them.
                # A single instance goes before its successor comes (never two at once).
                pulumi.ResourceOptions(
                    replacement_trigger=carrier.id if carrier else None,
                    delete_before_replace=workload.single_instance or None,
                ),
            ),
        )
        return DeployedWorkload(
            identity=workload.identity,
            internal=self.endpoints(workload.identity, workload.ports),
            resources=(container,),
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
        """The admin port as published on loopback, where `pulumi up` runs beside the engine."""
        port = self.admin_port(workload, port_name)
        assert port.admin_host_port is not None
        return AdminAddress(
            host=LOOPBACK, port=port.admin_host_port, ready=tuple(deployed.resources)
        )

    def _run_arguments(self, place: Placement) -> dict[str, Any]:
        """How the container runs: a server, a one-shot job, or a scheduled loop."""
        workload = place.workload
        identity = workload.identity
        command = [*workload.command, *workload.args]
        arguments: dict[str, Any] = {
            "envs": containers.envs(workload) or None,
            "tmpfs": containers.tmpfs(workload),
            "networks_advanced": [
                docker.ContainerNetworksAdvancedArgs(
                    name=self.network.name, aliases=[identity.base_name, identity.name]
                )
            ],
            **containers.hardened(workload),
            "labels": [
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in {**place.labels, labels.CONFIG_HASH: content_hash(workload)}.items()
            ],
        }
        if workload.kind is WorkloadKind.JOB:
            return {
                **arguments,
                "command": command or None,
                "must_run": False,
                "attach": True,
                "restart": "no",
            }
        if workload.kind is WorkloadKind.SCHEDULED:
            loop = ["/bin/sh", "-c", sleep_loop(workload.schedule or ""), identity.name, *command]
            return {**arguments, "command": loop, "restart": "unless-stopped"}
        assert workload.readiness is not None  # servers always have probes (Workload checks)
        return {
            **arguments,
            "command": command or None,
            "ports": [
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
            "healthcheck": containers.healthcheck(workload.readiness, workload.startup),
            "restart": "unless-stopped",
            "stop_timeout": workload.termination_grace_period_seconds,
            "wait": True,
            "wait_timeout": WAIT_TIMEOUT_SECONDS,
        }

    def _init_step(
        self,
        place: Placement,
        index: int,
        mounts: list[docker.ContainerMountArgs],
        after: list[pulumi.Resource],
        carrier: docker.Container | None,
    ) -> docker.Container:
        """An init step as a one-shot container with the workload's files and volumes; it
        runs again whenever the files change (as an init container does in a new pod)."""
        workload = place.workload
        step = workload.init[index]
        return docker.Container(
            f"{place.prefix}-init-{step.name}",
            name=f"{place.prefix}-init-{step.name}",
            image=self._image(step.image or workload.image).image_id,
            command=list(step.command),
            envs=containers.envs(workload, step.env) or None,
            mounts=mounts or None,
            tmpfs=containers.tmpfs(workload),
            network_mode=self.network_name,
            **containers.hardened(workload),
            must_run=False,
            attach=True,
            restart="no",
            labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in place.labels.items()],
            opts=pulumi.ResourceOptions.merge(
                place.options(depends_on=[self.network, *after]),
                pulumi.ResourceOptions(replacement_trigger=carrier.id if carrier else None),
            ),
        )
