"""Pod security: the Kubernetes "restricted" profile, plus its Docker equivalents.

Each policy reads the pod spec of every Kubernetes kind that carries one (Pod,
Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob,
PodTemplate, and their *Patch forms), every container list in it (containers,
initContainers, ephemeralContainers) and, where Docker has the same knob, a
`docker.Container`. For the fields both levels have (runAsNonRoot, runAsUser,
seccompProfile) a container's securityContext overrides the pod's, as the kubelet does
(https://kubernetes.io/docs/tasks/configure-pod-container/security-context/).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from rules.declare import mandatory_policy

from . import wire

_ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_DOCKER_HOST_MODES = ("networkMode", "pidMode", "ipcMode")


def _pod_containers(args: ResourceValidationArgs) -> Iterator[tuple[Any, str, Any]]:
    """(pod spec, description, container) of every container, in every list, of a
    pod-carrying resource; the description says which list ("init container 'x'")."""
    spec = wire.pod_spec(args.resource_type, args.props)
    if spec is None:
        return
    for where, container in wire.container_entries(spec):
        yield spec, _where(where, container), container


def _where(list_name: str, container: Any) -> str:
    """`container 'x'`, `init container 'x'` or `ephemeral container 'x'` for messages."""
    prefix = {"initContainers": "init ", "ephemeralContainers": "ephemeral "}.get(list_name, "")
    return f"{prefix}container '{wire.container_name(container)}'"


def _effective(spec: Any, container: Any, key: str) -> Any:
    """A securityContext field of the container, falling back to the pod's."""
    value = wire.get(container, "securityContext", key)
    return wire.get(spec, "securityContext", key) if value is None else value


def _docker(args: ResourceValidationArgs) -> bool:
    return args.resource_type == wire.DOCKER_CONTAINER


def _one_shot(props: Any) -> bool:
    """A Docker container that runs to completion once: never required to keep running."""
    return wire.get(props, "mustRun") is False and wire.text(wire.get(props, "restart")) == "no"


def _security_opts(props: Any) -> list[str]:
    return [o for o in (wire.text(x) for x in wire.elements(wire.get(props, "securityOpts"))) if o]


def validate_run_as_non_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Containers must run as a non-root user."""
    for spec, name, container in _pod_containers(args):
        non_root = _effective(spec, container, "runAsNonRoot")
        user = _effective(spec, container, "runAsUser")
        if wire.is_unknown(non_root) or wire.is_unknown(user):
            continue
        if non_root is not True:
            report(f"{name} does not set securityContext.runAsNonRoot: true.", None)
        elif user == 0:
            report(f"{name} sets runAsUser: 0 (root).", None)
    if _docker(args):
        user = wire.get(args.props, "user")
        if wire.is_unknown(user):
            return
        identity = (wire.text(user) or "").split(":", 1)[0]
        if identity in ("", "0", "root"):
            report(f"container '{args.name}' runs as root (user={user!r}).", None)


def validate_not_privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No container runs privileged."""
    for _, name, container in _pod_containers(args):
        if wire.get(container, "securityContext", "privileged") is True:
            report(f"{name} is privileged.", None)
    if _docker(args) and wire.get(args.props, "privileged") is True:
        report(f"container '{args.name}' is privileged.", None)


def validate_no_privilege_escalation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """allowPrivilegeEscalation is false (Docker: `no-new-privileges`)."""
    for _, name, container in _pod_containers(args):
        value = wire.get(container, "securityContext", "allowPrivilegeEscalation")
        if not wire.is_unknown(value) and value is not False:
            report(f"{name} does not set allowPrivilegeEscalation: false.", None)
    if _docker(args):
        opts = _security_opts(args.props)
        if not any(o in ("no-new-privileges", "no-new-privileges:true") for o in opts):
            report(f"container '{args.name}' lacks securityOpts no-new-privileges:true.", None)


def _check_capabilities(
    name: str, caps: Any, drop_key: str, add_key: str, report: ReportViolation
) -> None:
    drops = [wire.text(c) for c in wire.elements(wire.get(caps, drop_key))]
    adds = [a for a in (wire.text(c) for c in wire.elements(wire.get(caps, add_key))) if a]
    if "ALL" not in drops:
        report(f"{name} does not drop ALL capabilities.", None)
    extra = sorted(set(adds) - _ALLOWED_ADDED_CAPABILITIES)
    if extra:
        report(f"{name} adds capabilities {', '.join(extra)}.", None)


def validate_capabilities(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Containers drop ALL capabilities and add back at most NET_BIND_SERVICE."""
    for _, name, container in _pod_containers(args):
        caps = wire.get(container, "securityContext", "capabilities")
        if not wire.is_unknown(caps):
            _check_capabilities(name, caps, "drop", "add", report)
    if _docker(args):
        caps = wire.get(args.props, "capabilities")
        if not wire.is_unknown(caps):
            _check_capabilities(f"container '{args.name}'", caps, "drops", "adds", report)


def validate_seccomp(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every container runs under the RuntimeDefault or a Localhost seccomp profile."""
    for spec, name, container in _pod_containers(args):
        profile = _effective(spec, container, "seccompProfile")
        kind = wire.get(profile, "type")
        if wire.is_unknown(profile) or wire.is_unknown(kind):
            continue
        if kind not in ("RuntimeDefault", "Localhost"):
            report(f"{name} has seccompProfile {kind or 'unset'}; use RuntimeDefault.", None)
    if _docker(args):
        unconfined = [
            o for o in _security_opts(args.props) if o.replace(":", "=") == "seccomp=unconfined"
        ]
        if unconfined:
            report(f"container '{args.name}' disables seccomp ({unconfined[0]}).", None)


def validate_host_namespaces(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No pod shares the host's network, PID or IPC namespace."""
    spec = wire.pod_spec(args.resource_type, args.props)
    if spec is not None:
        shared = [key for key in _HOST_NAMESPACES if wire.get(spec, key) is True]
        contexts = [wire.get(spec, "securityContext")]
        contexts += [wire.get(c, "securityContext") for c in wire.containers(spec)]
        if any(wire.get(sc, "windowsOptions", "hostProcess") is True for sc in contexts):
            shared.append("windowsOptions.hostProcess")
        if shared:
            report(f"the pod spec of '{args.name}' sets {', '.join(shared)}: true.", None)
    if _docker(args):
        host = [key for key in _DOCKER_HOST_MODES if wire.get(args.props, key) == "host"]
        if host:
            report(f"container '{args.name}' uses the host namespace via {', '.join(host)}.", None)


def validate_no_host_path(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No pod mounts a hostPath volume (Docker: no bind mounts of host paths)."""
    spec = wire.pod_spec(args.resource_type, args.props)
    if spec is not None:
        for volume in wire.elements(wire.get(spec, "volumes")):
            if wire.get(volume, "hostPath") is not None:
                report(
                    f"volume '{wire.text(wire.get(volume, 'name'))}' of '{args.name}' is a hostPath.",
                    None,
                )
    if _docker(args):
        binds = [
            wire.text(wire.get(m, "source")) or "?"
            for m in wire.elements(wire.get(args.props, "mounts"))
            if wire.get(m, "type") == "bind"
        ]
        binds += [
            wire.text(wire.get(v, "hostPath")) or "?"
            for v in wire.elements(wire.get(args.props, "volumes"))
            if wire.get(v, "hostPath") is not None
        ]
        if binds:
            report(f"container '{args.name}' bind-mounts host paths: {', '.join(binds)}.", None)


def validate_resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every container and init container requests and limits CPU and memory (Docker: cpus
    and memory limits). Ephemeral containers are exempt: the API forbids them resources."""
    spec = wire.pod_spec(args.resource_type, args.props)
    for where, container in wire.container_entries(spec) if spec is not None else []:
        if where == "ephemeralContainers":
            continue
        name = _where(where, container)
        resources = wire.get(container, "resources")
        if wire.is_unknown(resources):
            continue
        for section in ("requests", "limits"):
            values = wire.get(resources, section)
            if wire.is_unknown(values):
                continue
            missing = [r for r in ("cpu", "memory") if wire.get(values, r) is None]
            if missing:
                report(f"{name} has no {' and '.join(missing)} {section}.", None)
    if _docker(args):
        missing = []
        if not wire.get(args.props, "memory"):
            missing.append("memory")
        if not (wire.get(args.props, "cpus") or wire.get(args.props, "cpuShares")):
            missing.append("cpus")
        if missing:
            report(f"container '{args.name}' has no {' and '.join(missing)} limit.", None)


def _runs_to_completion(resource_type: str, spec: Any) -> bool:
    """Jobs, CronJobs and pods whose restartPolicy is Never or OnFailure finish by design."""
    if wire.workload_kind(resource_type) in ("Job", "CronJob"):
        return True
    return wire.get(spec, "restartPolicy") in ("Never", "OnFailure")


def validate_probes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Long-running containers have readiness and liveness probes (Docker: a healthcheck).

    Long-running: app containers and native sidecars (init containers with restartPolicy
    Always). Ordinary init and ephemeral containers cannot have probes; Jobs, CronJobs and
    pods with restartPolicy Never/OnFailure run to completion and are exempt, as is a
    one-shot Docker container (`mustRun: false`, `restart: "no"`), Docker's equivalent.
    """
    spec = wire.pod_spec(args.resource_type, args.props)
    finishes = spec is None or _runs_to_completion(args.resource_type, spec)
    for where, container in [] if finishes else wire.container_entries(spec):
        if not wire.long_running(where, container):
            continue
        for probe in ("readinessProbe", "livenessProbe"):
            if wire.get(container, probe) is None:
                report(f"{_where(where, container)} has no {probe}.", None)
    if _docker(args) and not _one_shot(args.props):
        check = wire.get(args.props, "healthcheck")
        tests = [wire.text(t) for t in wire.elements(wire.get(check, "tests"))]
        if check is None or tests[:1] == ["NONE"]:
            report(f"container '{args.name}' has no healthcheck.", None)


def validate_read_only_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every container's root filesystem is read-only (Docker: `readOnly`)."""
    spec = wire.pod_spec(args.resource_type, args.props)
    for where, container in wire.container_entries(spec) if spec is not None else []:
        value = wire.get(container, "securityContext", "readOnlyRootFilesystem")
        if not wire.is_unknown(value) and value is not True:
            report(f"{_where(where, container)} does not set readOnlyRootFilesystem: true.", None)
    if _docker(args):
        value = wire.get(args.props, "readOnly")
        if not wire.is_unknown(value) and value is not True:
            report(f"container '{args.name}' does not set readOnly: true.", None)


def _policy(
    name: str, description: str, validate: Any, severity: Severity, remediation: str
) -> ResourceValidationPolicy:
    return mandatory_policy(
        name,
        description,
        validate,
        severity=severity,
        remediation=remediation,
        tags=("pod-security", "restricted"),
    )


POLICIES = [
    _policy(
        "pod-run-as-non-root",
        "Containers run as a non-root user: runAsNonRoot true and runAsUser not 0 "
        "(Docker: `user` set and not root).",
        validate_run_as_non_root,
        Severity.HIGH,
        "Set securityContext.runAsNonRoot: true and a non-zero runAsUser on the pod or "
        "container (Docker: user: '1000:1000').",
    ),
    _policy(
        "pod-no-privileged-containers",
        "No container runs privileged (Kubernetes securityContext.privileged, Docker privileged).",
        validate_not_privileged,
        Severity.CRITICAL,
        "Remove privileged: true; grant the single capability needed instead.",
    ),
    _policy(
        "pod-no-privilege-escalation",
        "Containers set allowPrivilegeEscalation: false (Docker: securityOpts "
        "no-new-privileges:true).",
        validate_no_privilege_escalation,
        Severity.HIGH,
        "Set securityContext.allowPrivilegeEscalation: false on every container.",
    ),
    _policy(
        "pod-capabilities-drop-all",
        "Containers drop ALL Linux capabilities and add back at most NET_BIND_SERVICE.",
        validate_capabilities,
        Severity.HIGH,
        "Set securityContext.capabilities.drop: [ALL]; add only NET_BIND_SERVICE if needed.",
    ),
    _policy(
        "pod-seccomp-profile",
        "Containers run under the RuntimeDefault (or a Localhost) seccomp profile; Docker "
        "containers never disable seccomp.",
        validate_seccomp,
        Severity.HIGH,
        "Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    ),
    _policy(
        "pod-no-host-namespaces",
        "Pods do not share the host's network, PID or IPC namespace (hostNetwork, hostPID, "
        "hostIPC, Windows hostProcess; Docker networkMode/pidMode/ipcMode 'host').",
        validate_host_namespaces,
        Severity.CRITICAL,
        "Remove hostNetwork/hostPID/hostIPC; expose ports through a Service instead.",
    ),
    _policy(
        "pod-no-host-path-volumes",
        "Pods mount no hostPath volume; Docker containers bind-mount no host path.",
        validate_no_host_path,
        Severity.HIGH,
        "Use a PersistentVolumeClaim, emptyDir, ConfigMap or Secret volume (Docker: a named volume).",
    ),
    _policy(
        "pod-resource-requests-and-limits",
        "Every container and init container declares CPU and memory requests and limits "
        "(Docker: memory and cpus limits); ephemeral containers cannot have any.",
        validate_resources,
        Severity.MEDIUM,
        "Set resources.requests and resources.limits for cpu and memory on every container.",
    ),
    _policy(
        "pod-health-probes",
        "Every long-running container (app containers and native sidecars) has readiness "
        "and liveness probes (Docker: a healthcheck); init and ephemeral containers, Jobs, "
        "CronJobs and pods with restartPolicy Never/OnFailure run to completion and are exempt.",
        validate_probes,
        Severity.MEDIUM,
        "Declare readinessProbe and livenessProbe on the workload's service port/health path.",
    ),
    _policy(
        "pod-read-only-root-filesystem",
        "Every container (app, init and ephemeral) sets securityContext."
        "readOnlyRootFilesystem: true (Docker: readOnly), so a compromised process cannot "
        "replace binaries or hide files in the image layer.",
        validate_read_only_root,
        Severity.MEDIUM,
        "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir (Docker: a "
        "tmpfs) where the program writes scratch files.",
    ),
]
"""The pod security policies."""
