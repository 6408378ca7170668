"""The `Workload` spec: what a service component asks the runtime to run.

Components describe containers in these terms only; `components/runtime/docker.py` and
`components/runtime/kubernetes.py` turn a `Workload` into provider resources. Nothing in
here imports a provider SDK.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pulumi

ENGINE_SOCKET = "/var/run/docker.sock"
"""Where the Docker engine's API socket is, on the host and in a workload that mounts it."""


class WorkloadKind(StrEnum):
    """How the workload is scheduled.

    STATELESS: replicas that serve (Deployment; a container on Docker). STATEFUL: a
    server with persistent volumes (StatefulSet). JOB: runs once to completion per change
    of its spec (Job; a one-shot container). SCHEDULED: runs to completion on a cron
    `schedule` (CronJob; on Docker a container that sleeps between runs).
    """

    STATELESS = "stateless"
    STATEFUL = "stateful"
    JOB = "job"
    SCHEDULED = "scheduled"

    @property
    def long_running(self) -> bool:
        """True for servers (probed, restarted); False for jobs that run to completion."""
        return self in (WorkloadKind.STATELESS, WorkloadKind.STATEFUL)


@dataclass(frozen=True, kw_only=True)
class WorkloadIdentity:
    """Who a workload is: the service, its component, and (under blue-green) its colour."""

    service: str
    component: str
    version: str
    color: str | None = None

    @property
    def base_name(self) -> str:
        """`<service>-<component>`, the colour-independent part of every resource name."""
        return f"{self.service}-{self.component}"

    @property
    def name(self) -> str:
        """`<service>-<component>[-<color>]`: the workload's own resource name."""
        return f"{self.base_name}-{self.color}" if self.color else self.base_name


@dataclass(frozen=True, kw_only=True)
class Port:
    """A container port; `admin_host_port` marks it as the operator's admin port.

    Docker publishes an admin port on 127.0.0.1:`admin_host_port`; Kubernetes admits the
    stack's admin CIDRs to it (the operator reaches it by port-forward or internal LB).
    """

    name: str
    container_port: int
    protocol: str = "TCP"
    admin_host_port: int | None = None


@dataclass(frozen=True, kw_only=True)
class Probe:
    """A health probe, the same check on both targets.

    The check is, in order of precedence: `exec_command` (run inside the container, exit
    status 0 is healthy), an HTTP GET of `path` on `port`, or a TCP connect to `port`.
    Kubernetes runs exactly that check; Docker's healthcheck can only run a command, so a
    Docker workload must give `exec_command` (a binary the image ships). A probe that needs
    more than "the port answers" (PostgreSQL accepting connections, Trino finished
    starting) must use `exec_command`, or Kubernetes would judge it by a bare TCP connect.
    Times are seconds. https://kubernetes.io/docs/concepts/configuration/liveness-readiness-startup-probes/
    """

    port: int
    path: str | None = None
    scheme: str = "HTTP"
    exec_command: tuple[str, ...] = ()
    initial_delay_seconds: int = 10
    period_seconds: int = 10
    timeout_seconds: int = 5
    failure_threshold: int = 6

    @property
    def budget_seconds(self) -> int:
        """How long the probe tolerates failure before it acts: delay + period x threshold."""
        return self.initial_delay_seconds + self.period_seconds * self.failure_threshold


@dataclass(frozen=True, kw_only=True)
class Resources:
    """CPU and memory requests and limits in Kubernetes quantity notation."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@dataclass(frozen=True, kw_only=True)
class Volume:
    """A persistent volume mounted at `mount_path`; `size` is a Kubernetes quantity."""

    name: str
    mount_path: str
    size: str


@dataclass(frozen=True, kw_only=True)
class ScratchDir:
    """A writable, ephemeral directory (emptyDir / tmpfs) for images with read-only roots.

    Docker mounts it `noexec` unless `executable` is set: the JVM, for one, unpacks
    native libraries (compression codecs) into its temp directory and loads them from there.
    """

    name: str
    mount_path: str
    size_limit: str = "256Mi"
    executable: bool = False


@dataclass(frozen=True, kw_only=True)
class ConfigFile:
    """A non-secret file placed at `path` (Kubernetes ConfigMap, Docker upload)."""

    path: str
    content: str


@dataclass(frozen=True, kw_only=True)
class SecretFile:
    """A file whose content is a secret `Output` (Kubernetes Secret, Docker upload)."""

    path: str
    content: pulumi.Output[str]


@dataclass(frozen=True, kw_only=True)
class Connection:
    """A network connection this workload opens to another workload's port.

    The Kubernetes runtime turns every connection into NetworkPolicy allow rules
    (egress from this workload, ingress on the target); Docker ignores it.
    """

    service: str
    component: str
    port: int


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """A network address of a workload as seen from inside the platform or by the operator."""

    host: str
    port: int
    scheme: str = "http"

    @property
    def address(self) -> str:
        """`host:port`."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """`scheme://host:port`."""
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, kw_only=True)
class SecurityProfile:
    """The non-root identity the container runs as."""

    run_as_user: int
    run_as_group: int
    fs_group: int | None = None
    read_only_root_filesystem: bool = True


@dataclass(frozen=True, kw_only=True)
class InitStep:
    """A command run to completion before the workload's container starts (init container).

    It runs with the workload's security profile, files, volumes and scratch dirs, in the
    workload's image unless `image` names another; `env` adds to the workload's env.
    """

    name: str
    command: tuple[str, ...]
    image: str | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ApiRule:
    """One rule of a namespaced Role: verbs on resources of API groups (RBAC semantics).

    `resource_names` narrows the rule to named objects. https://kubernetes.io/docs/reference/access-authn-authz/rbac/
    """

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ApiAccess:
    """What a workload may do through the Kubernetes API, in its own namespace only.

    The Kubernetes runtime gives such a workload a ServiceAccount whose token is mounted,
    a Role with exactly these rules and a RoleBinding; every other workload has no token.
    Docker has no API identity: the Docker runtime ignores it.
    """

    rules: tuple[ApiRule, ...]


@dataclass(frozen=True, kw_only=True)
class LaunchedPods:
    """Pods a workload creates through the Kubernetes API at run time (e.g. Dagster's run
    workers as Jobs), which no runtime renders.

    They must carry `labels.selector_labels(identity)` (the launching workload sets them);
    the Kubernetes runtime gives pods so labelled NetworkPolicy egress to `connections`
    and the matching ingress on each peer, as if they were a workload. Docker ignores it.
    """

    identity: WorkloadIdentity
    connections: tuple[Connection, ...]


@dataclass(frozen=True, kw_only=True)
class Workload:
    """Everything a runtime needs to run one container-based tier of a service.

    `startup` gates readiness and liveness of slow starters (Kubernetes startup probe;
    Docker's healthcheck start period). `pre_stop` is a command run before the container
    is stopped (a server that drains: Kubernetes preStop hook), and
    `termination_grace_period_seconds` how long the runtime waits after the stop signal
    before it kills the container (Kubernetes grace period; Docker stop timeout).
    `init` runs before the container; `api_access` gives it a namespaced API identity.
    `single_instance`: never two containers at once, not even while a new version rolls
    out (Kubernetes: a Deployment with the Recreate strategy, which removes the old pod
    before it creates the new one; Docker: the old container is deleted before the new
    one is created). `engine_socket` (Docker only, e.g. a socket proxy): the engine's API
    socket bind-mounted read-only at `ENGINE_SOCKET`; the Kubernetes runtime refuses it.
    `launches`: pods it creates through the API at run time (see `LaunchedPods`).
    """

    identity: WorkloadIdentity
    kind: WorkloadKind
    image: str
    ports: tuple[Port, ...]
    resources: Resources
    security: SecurityProfile
    readiness: Probe | None = None
    liveness: Probe | None = None
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    config_files: tuple[ConfigFile, ...] = ()
    secret_files: tuple[SecretFile, ...] = ()
    volumes: tuple[Volume, ...] = ()
    scratch: tuple[ScratchDir, ...] = ()
    connections: tuple[Connection, ...] = ()
    startup: Probe | None = None
    pre_stop: tuple[str, ...] = ()
    termination_grace_period_seconds: int | None = None
    replicas: int = 1
    data_classification: str | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    init: tuple[InitStep, ...] = ()
    api_access: ApiAccess | None = None
    schedule: str | None = None
    """Cron expression (UTC) of a SCHEDULED workload."""
    active_deadline_seconds: int | None = None
    """How long one run of a JOB or SCHEDULED workload may take before it is stopped."""
    single_instance: bool = False
    engine_socket: bool = False
    launches: LaunchedPods | None = None

    def __post_init__(self) -> None:
        """Servers are probed; jobs have no ports to probe; only scheduled jobs have a cron."""
        name = self.identity.name
        if self.kind.long_running and (self.readiness is None or self.liveness is None):
            raise ValueError(
                f"workload {name}: a {self.kind} workload needs readiness and liveness"
            )
        if not self.kind.long_running and (self.volumes or self.replicas != 1):
            raise ValueError(f"workload {name}: a {self.kind} runs once, without volumes")
        if (self.kind is WorkloadKind.SCHEDULED) != (self.schedule is not None):
            raise ValueError(f"workload {name}: a schedule belongs to scheduled workloads only")
        if self.single_instance and (self.kind is not WorkloadKind.STATELESS or self.replicas != 1):
            raise ValueError(
                f"workload {name}: single_instance needs a stateless workload with one replica"
            )
