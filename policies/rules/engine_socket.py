"""The container engine's API socket: whoever can connect to it controls the host.

A Docker container that bind-mounts an engine socket (`docker.sock`, `containerd.sock`,
`crio.sock`, `podman.sock`, or a directory holding one such as `/var/run`) must be a
filtering proxy kept to itself: the mount read-only (it keeps the socket file from being
replaced; it does NOT stop API calls, which is why the rest matters), no published port,
and one network (the one whose clients it serves). A Kubernetes pod never needs the
node's engine socket (the Dagster K8sRunLauncher talks to the API server under RBAC), so
any hostPath to one is reported. Upstream: docs.docker.com/engine/security/#docker-daemon-attack-surface.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from . import wire

_SOCKET = re.compile(r"(^|/)(docker|containerd|crio|podman)\.sock$")
_SOCKET_DIRS = frozenset(
    {
        "/run",
        "/var/run",
        "/run/containerd",
        "/var/run/containerd",
        "/run/docker",
        "/var/run/docker",
        "/run/crio",
        "/run/podman",
    }
)
"""Directories whose mount hands over the engine socket inside them."""
_SHARED_NETWORKS = frozenset({"host", "bridge", "default"})
"""Docker's host network and default bridge: every container (or the host) is a peer."""


def engine_socket(path: str | None) -> bool:
    """True for a host path that is (or contains) a container engine's API socket."""
    if not path:
        return False
    normal = posixpath.normpath(path)
    return bool(_SOCKET.search(normal)) or normal in _SOCKET_DIRS


def _docker_socket_mounts(props: Any) -> list[tuple[str, bool]]:
    """(host path, read-only) of every engine socket a Docker container mounts."""
    found: list[tuple[str, bool]] = []
    for mount in wire.elements(wire.get(props, "mounts")):
        source = wire.text(wire.get(mount, "source"))
        if wire.get(mount, "type") == "bind" and engine_socket(source):
            found.append((source or "?", wire.get(mount, "readOnly") is True))
    for volume in wire.elements(wire.get(props, "volumes")):
        source = wire.text(wire.get(volume, "hostPath"))
        if engine_socket(source):
            found.append((source or "?", wire.get(volume, "readOnly") is True))
    return found


def _networks(props: Any) -> list[str] | None:
    """Networks a Docker container joins (`networksAdvanced`, else `networkMode`, else
    Docker's default bridge); None when unknown."""
    advanced = wire.get(props, "networksAdvanced")
    mode = wire.get(props, "networkMode")
    if wire.is_unknown(advanced) or wire.is_unknown(mode):
        return None
    names = [wire.text(wire.get(n, "name")) or "?" for n in wire.elements(advanced)]
    if wire.text(mode) and wire.text(mode) not in names:
        names.append(wire.text(mode) or "?")
    return names or ["bridge"]


def validate_engine_socket(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The engine socket is mounted read-only by an unpublished, single-network container;
    never into a Kubernetes pod."""
    spec = wire.pod_spec(args.resource_type, args.props)
    for volume in wire.elements(wire.get(spec, "volumes")) if spec is not None else []:
        path = wire.text(wire.get(volume, "hostPath", "path"))
        if engine_socket(path):
            report(
                f"pod volume '{wire.text(wire.get(volume, 'name'))}' of '{args.name}' mounts "
                f"the node's container engine socket ({path}): the pod controls the node.",
                None,
            )
    if args.resource_type != wire.DOCKER_CONTAINER:
        return
    mounts = _docker_socket_mounts(args.props)
    if not mounts:
        return
    writable = [path for path, read_only in mounts if not read_only]
    if writable:
        report(
            f"container '{args.name}' mounts the engine socket writable ({', '.join(writable)}).",
            None,
        )
    ports = wire.elements(wire.get(args.props, "ports"))
    if ports:
        report(
            f"container '{args.name}' holds the engine socket and publishes {len(ports)} "
            "port(s): the engine's API would be reachable from the host.",
            None,
        )
    networks = _networks(args.props)
    if networks is not None and (len(networks) != 1 or networks[0] in _SHARED_NETWORKS):
        report(
            f"container '{args.name}' holds the engine socket and joins "
            f"{', '.join(networks)}: keep it on the one network of the clients it serves.",
            None,
        )


engine_socket_restricted = ResourceValidationPolicy(
    name="engine-socket-restricted",
    description=(
        "A Docker container bind-mounting a container engine socket (docker/containerd/"
        "crio/podman .sock, or a directory holding it such as /var/run) mounts it "
        "read-only, publishes no port and joins exactly one user network (a filtering "
        "proxy's shape); no Kubernetes pod (any kind, any pod spec) has a hostPath to one."
    ),
    validate=validate_engine_socket,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    remediation_steps=(
        "Give the socket only to a filtering proxy (e.g. wollomatic/socket-proxy with an "
        "allowlist) mounted read-only, unpublished, on the clients' network; point clients "
        "at the proxy (DOCKER_HOST=tcp://proxy:2375). On Kubernetes use the API under RBAC."
    ),
    tags=["docker", "host"],
)

POLICIES = [engine_socket_restricted]
"""The container engine socket policies."""
