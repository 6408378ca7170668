"""What every runtime offers the service components, whichever engine runs the containers."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi

from components.runtime.stack import StackSettings
from components.runtime.workload import Endpoint, Port, Workload, WorkloadIdentity


@dataclass(frozen=True, kw_only=True)
class AdminAddress:
    """Where the machine running `pulumi up` reaches a server's admin port.

    `host` may be an Output known only once the deploy has created the way in (the
    admin load balancer's address on Kubernetes); `ready` lists what a control-plane
    provider's resources must wait for: the server itself and that way in.
    """

    host: pulumi.Input[str]
    port: int
    ready: tuple[pulumi.Resource, ...]


@dataclass(frozen=True, kw_only=True)
class DeployedWorkload:
    """A rendered workload: where others reach it and what dependents must wait for."""

    identity: WorkloadIdentity
    internal: dict[str, Endpoint]
    resources: Sequence[pulumi.Resource] = field(default_factory=tuple)

    def endpoint(self, port_name: str) -> Endpoint:
        """The in-platform endpoint of the named port."""
        return self.internal[port_name]


class Runtime(pulumi.ComponentResource, ABC):
    """Turns `Workload` specs into provider resources on one target (Docker or Kubernetes)."""

    stack: StackSettings

    def __init__(
        self, type_token: str, name: str, stack: StackSettings, opts: pulumi.ResourceOptions | None
    ) -> None:
        super().__init__(type_token, name, None, opts)
        self.stack = stack

    @abstractmethod
    def internal_host(self, identity: WorkloadIdentity) -> str:
        """The stable in-platform host name of a workload (colour-independent)."""

    @abstractmethod
    def deploy(
        self,
        workload: Workload,
        *,
        parent: pulumi.Resource,
        after: Sequence[pulumi.Resource] = (),
    ) -> DeployedWorkload:
        """Render one workload as children of `parent`; stateful ones are protected in prod.

        The workload's pods (containers) start only after `after`: the credentials and
        grants it logs in with. Nothing else of it waits, so the deploy graph stays short.
        """

    @abstractmethod
    def control_plane_address(
        self,
        workload: Workload,
        deployed: DeployedWorkload,
        *,
        port_name: str,
        parent: pulumi.Resource,
        fixed_host: str | None = None,
    ) -> AdminAddress:
        """Where a control-plane provider, running beside `pulumi up`, reaches an admin port.

        Works from nothing: the address is made by the same deploy (Docker: a port
        published on loopback; Kubernetes: an internal load balancer limited to the
        admin CIDRs), unless `fixed_host` names an address that already exists (then
        Kubernetes creates nothing). Raises KeyError when `port_name` is not an admin port.
        """

    @staticmethod
    def admin_port(workload: Workload, port_name: str) -> Port:
        """The named admin port of a workload; KeyError when it has none of that name."""
        for port in workload.ports:
            if port.name == port_name and port.admin_host_port is not None:
                return port
        raise KeyError(f"workload {workload.identity.name} has no admin port {port_name!r}")

    def endpoints(self, identity: WorkloadIdentity, ports: Sequence[Port]) -> dict[str, Endpoint]:
        """In-platform endpoints of a workload's ports, keyed by port name."""
        host = self.internal_host(identity)
        return {port.name: Endpoint(host=host, port=port.container_port) for port in ports}

    def child_opts(
        self,
        parent: pulumi.Resource,
        *,
        protect: bool = False,
        depends_on: Sequence[pulumi.Resource] = (),
    ) -> pulumi.ResourceOptions:
        """Options of a resource rendered for a component: parented, on this runtime's provider."""
        return pulumi.ResourceOptions(
            parent=parent,
            protect=protect,
            depends_on=list(depends_on),
            provider=self.provider,
        )

    @property
    @abstractmethod
    def provider(self) -> pulumi.ProviderResource:
        """The explicit provider every rendered resource uses."""


def content_hash(workload: Workload) -> pulumi.Output[str]:
    """A digest of everything a workload's containers read at start, as a secret Output.

    Covers env, config files, and the VALUES of secret env and secret files, so rotating a
    generated password or renewing a certificate changes the pod template (Kubernetes
    rolls the pods) or the container (Docker replaces it). The digest is derived from
    secrets, so it stays a secret Output: it never appears in a render or a log.
    Shape: 16 hex characters (a truncated SHA-256).
    """
    secret_env = sorted(workload.secret_env.items())
    secret_files = sorted((f.path, f.content) for f in workload.secret_files)
    resolved = pulumi.Output.all(
        *(value for _, value in secret_env), *(content for _, content in secret_files)
    )

    def digest(values: list[str]) -> str:
        secret_values = iter(values)
        payload = {
            "env": workload.env,
            "files": {f.path: f.content for f in workload.config_files},
            "secret_env": {key: next(secret_values) for key, _ in secret_env},
            "secret_files": {path: next(secret_values) for path, _ in secret_files},
        }
        encoded = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]

    return pulumi.Output.secret(resolved.apply(digest))
