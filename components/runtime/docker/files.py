"""Config and secret files, delivered read-only through a per-workload volume.

Docker refuses to copy files into a container whose root filesystem is read-only
(moby#35987), so the files are uploaded into a volume through a carrier container that is
created and never started; the server mounts one sub-path of that volume, read-only, per
directory (Docker Engine 26+). A change of any file replaces the carrier, and the
server's `replacement_trigger` follows it, so new contents restart the server.
"""

from __future__ import annotations

import posixpath

import pulumi
import pulumi_docker as docker

from components.runtime import labels
from components.runtime.docker.placement import Placement

FILES_MOUNT = "/files"
FILES_SIZE = "16Mi"
CARRIER_MEMORY_MIB = 64


def directory_key(path: str) -> str:
    """The volume sub-path holding a file's directory: `/etc/trino/x` -> `etc-trino`."""
    return posixpath.dirname(path).strip("/").replace("/", "-")


def files_volume(
    place: Placement,
) -> tuple[list[docker.ContainerMountArgs], docker.Container | None]:
    """Read-only mounts of the workload's file directories, and the carrier that fills them."""
    workload = place.workload
    files: list[tuple[str, pulumi.Input[str]]] = [
        (f.path, f.content) for f in workload.config_files
    ]
    files += [(f.path, pulumi.Output.secret(f.content)) for f in workload.secret_files]
    if not files:
        return [], None
    # The volume holds credentials whenever secret files are among the files.
    classification = "restricted" if workload.secret_files else "internal"
    files_labels = {
        **place.labels,
        labels.DATA_CLASSIFICATION: workload.data_classification or classification,
    }
    volume = docker.Volume(
        f"{place.prefix}-files",
        name=f"{place.prefix}-files",
        labels=[
            docker.VolumeLabelArgs(label=k, value=v)
            for k, v in {**files_labels, "dataplatform.io/requested-size": FILES_SIZE}.items()
        ],
        opts=place.options(),
    )
    sec = workload.security
    carrier = docker.Container(
        f"{place.prefix}-files",
        name=f"{place.prefix}-files",
        image=place.image(place.helper_image).image_id,
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
        memory=CARRIER_MEMORY_MIB,
        cpus="0.25",
        mounts=[docker.ContainerMountArgs(target=FILES_MOUNT, type="volume", source=volume.name)],
        uploads=[
            docker.ContainerUploadArgs(
                file=f"{FILES_MOUNT}/{directory_key(path)}/{posixpath.basename(path)}",
                content=content,
                permissions="0444",
            )
            for path, content in sorted(files, key=lambda item: item[0])
        ],
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in files_labels.items()],
        opts=place.options(depends_on=[volume]),
    )
    mounts = [
        docker.ContainerMountArgs(
            target=directory,
            type="volume",
            source=volume.name,
            read_only=True,
            volume_options=docker.ContainerMountVolumeOptionsArgs(
                subpath=directory_key(directory + "/")
            ),
        )
        for directory in sorted({posixpath.dirname(path) for path, _ in files})
    ]
    return mounts, carrier
