"""Where and how the Kubernetes runtime deploys."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, Field

from components.runtime.stack import SettingsModel


def _cidr(value: str) -> str:
    """A network in CIDR notation (`10.40.12.0/24`), host bits clear; ValueError otherwise."""
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as error:
        raise ValueError(f"expected a network such as 10.40.12.0/24: {error}") from None


Cidr = Annotated[str, AfterValidator(_cidr)]


class KubernetesSettings(SettingsModel):
    """Where and how the Kubernetes runtime deploys: context, storage class, admin network."""

    context: str | None = None
    storage_class: str | None = None
    cluster_domain: str = "cluster.local"
    admin_cidrs: tuple[Cidr, ...] = Field(default=(), description="CIDRs allowed to admin ports")
    admin_load_balancer_annotations: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "annotations that make the admin Services' load balancers internal on this "
            "cluster's cloud, e.g. service.beta.kubernetes.io/aws-load-balancer-internal"
        ),
    )
    dns_namespace: str = "kube-system"
    api_server_cidrs: tuple[Cidr, ...] = Field(
        default=(),
        description=(
            "where the API server's endpoints are (`kubectl get endpoints kubernetes`): "
            "workloads with api_access get NetworkPolicy egress there; empty: none"
        ),
    )
    api_server_ports: tuple[int, ...] = (443, 6443)
