"""The arguments every container of a workload shares: identity, security, limits, env.

Non-root user, read-only root, all capabilities dropped, no-new-privileges, memory and
CPU limits from the workload's resources; secret env only for images with no file option.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_docker as docker

from components.runtime.quantities import cpu_cores, memory_bytes
from components.runtime.workload import ENGINE_SOCKET, Probe, ScratchDir, Workload


def envs(workload: Workload, extra: dict[str, str] | None = None) -> list[pulumi.Input[str]]:
    """`KEY=value` entries: plain env, then secret env as secret Outputs."""
    plain = {**workload.env, **(extra or {})}
    entries: list[pulumi.Input[str]] = [f"{k}={v}" for k, v in sorted(plain.items())]
    entries += [
        pulumi.Output.secret(value).apply(lambda v, key=key: f"{key}={v}")
        for key, value in sorted(workload.secret_env.items())
    ]
    return entries


def hardened(workload: Workload) -> dict[str, Any]:
    """Container arguments for the workload's identity, isolation and resource limits."""
    sec = workload.security
    return {
        "user": f"{sec.run_as_user}:{sec.run_as_group}",
        "read_only": sec.read_only_root_filesystem,
        "capabilities": docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        "security_opts": ["no-new-privileges:true"],
        "privileged": False,
        "memory": memory_bytes(workload.resources.memory_limit) // 2**20,
        "memory_reservation": memory_bytes(workload.resources.memory_request) // 2**20,
        "cpus": f"{cpu_cores(workload.resources.cpu_limit):g}",
    }


def tmpfs(workload: Workload) -> dict[str, str] | None:
    """Scratch dirs as tmpfs mounts (noexec unless the scratch dir asks otherwise)."""
    return {s.mount_path: _tmpfs_options(s) for s in workload.scratch} or None


def _tmpfs_options(scratch: ScratchDir) -> str:
    exec_flag = "exec" if scratch.executable else "noexec"
    return f"rw,{exec_flag},nosuid,nodev,size={memory_bytes(scratch.size_limit)}"


def healthcheck(probe: Probe, startup: Probe | None) -> docker.ContainerHealthcheckArgs:
    """Docker's healthcheck: the readiness command; a startup probe becomes the start period.

    Docker has one healthcheck and no startup probe: failures during `start_period` do not
    count, which is what a Kubernetes startup probe gives a slow starter.
    Raises ValueError when the probe has no command (Docker runs commands only).
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


def engine_socket_mount() -> docker.ContainerMountArgs:
    """The engine's API socket, bind-mounted read-only (`Workload.engine_socket`).

    Read-only stops the file from being replaced, not the API from being called: whoever
    can connect to the socket controls the engine, so only a filtering proxy may mount it.
    """
    return docker.ContainerMountArgs(
        target=ENGINE_SOCKET, source=ENGINE_SOCKET, type="bind", read_only=True
    )
