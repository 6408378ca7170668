"""Where and how the Kubernetes runtime deploys."""

from __future__ import annotations

from pydantic import Field

from components.runtime.stack import SettingsModel


class KubernetesSettings(SettingsModel):
    """Where and how the Kubernetes runtime deploys: context, storage class, admin network."""

    context: str | None = None
    storage_class: str | None = None
    cluster_domain: str = "cluster.local"
    admin_cidrs: tuple[str, ...] = Field(default=(), description="CIDRs allowed to admin ports")
    admin_load_balancer_annotations: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "annotations that make the admin Services' load balancers internal on this "
            "cluster's cloud, e.g. service.beta.kubernetes.io/aws-load-balancer-internal"
        ),
    )
    dns_namespace: str = "kube-system"
