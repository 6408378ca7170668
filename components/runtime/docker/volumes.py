"""Named volumes for a workload's persistent data, handed to its non-root user.

Docker creates named volumes owned by root, and a non-root server cannot write to them;
Kubernetes solves this with fsGroup, Docker has no equivalent. A one-shot helper runs
once per volume (attached, not restarted), with no network and only CAP_CHOWN.
"""

from __future__ import annotations

import pulumi
import pulumi_docker as docker

from components.runtime import labels
from components.runtime.docker.placement import Placement
from components.runtime.workload import Volume, WorkloadIdentity, WorkloadKind

VOLUME_INIT_MOUNT = "/volume"
VOLUME_INIT_MEMORY_MIB = 64


def data_volumes(place: Placement) -> tuple[list[docker.ContainerMountArgs], list[pulumi.Resource]]:
    """Mounts of the workload's volumes, and the resources its container must wait for."""
    protect = place.workload.kind is WorkloadKind.STATEFUL and place.stack.is_prod
    mounts: list[docker.ContainerMountArgs] = []
    resources: list[pulumi.Resource] = []
    for volume in place.workload.volumes:
        docker_volume = docker.Volume(
            f"{place.prefix}-{volume.name}",
            name=f"{place.prefix}-{volume.name}",
            labels=[
                docker.VolumeLabelArgs(label=k, value=v)
                for k, v in {**place.labels, "dataplatform.io/requested-size": volume.size}.items()
            ],
            opts=place.options(protect=protect),
        )
        resources += [docker_volume, _volume_init(place, volume, docker_volume)]
        mounts.append(
            docker.ContainerMountArgs(
                target=volume.mount_path, type="volume", source=docker_volume.name
            )
        )
    return mounts, resources


def _volume_init(
    place: Placement, volume: Volume, docker_volume: docker.Volume
) -> docker.Container:
    """The one-shot helper that chowns a fresh volume to the workload's uid and fsGroup."""
    workload = place.workload
    sec = workload.security
    group = sec.fs_group if sec.fs_group is not None else sec.run_as_group
    init_labels = labels.workload_labels(
        place.stack,
        WorkloadIdentity(
            service=workload.identity.service,
            component=f"{workload.identity.component}-volume-init",
            version=workload.identity.version,
        ),
        data_classification=workload.data_classification,
    )
    return docker.Container(
        f"{place.prefix}-{volume.name}-init",
        name=f"{place.prefix}-{volume.name}-init",
        image=place.image(place.helper_image).image_id,
        command=["chown", "-R", f"{sec.run_as_user}:{group}", VOLUME_INIT_MOUNT],
        mounts=[
            docker.ContainerMountArgs(
                target=VOLUME_INIT_MOUNT, type="volume", source=docker_volume.name
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
        opts=place.options(depends_on=[docker_volume]),
    )
