"""Who a workload is to the Kubernetes API: a ServiceAccount, and RBAC only when it needs it.

Every workload gets its own ServiceAccount. Only a workload that declares `api_access`
(e.g. Dagster's run launcher, which creates Jobs) gets its token mounted, a Role with
exactly its rules in its own namespace, and a RoleBinding; every other one has no token.
https://kubernetes.io/docs/reference/access-authn-authz/rbac/
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.runtime.kubernetes.placement import Placement

core = k8s.core.v1
rbac = k8s.rbac.v1


def service_account(place: Placement) -> list[pulumi.Resource]:
    """The workload's ServiceAccount, plus Role and RoleBinding when it calls the API."""
    access = place.workload.api_access
    account = core.ServiceAccount(
        f"{place.prefix}-account",
        metadata=place.meta(place.name),
        automount_service_account_token=access is not None,
        opts=place.options(),
    )
    if access is None:
        return [account]
    role = rbac.Role(
        f"{place.prefix}-role",
        metadata=place.meta(place.name),
        rules=[
            rbac.PolicyRuleArgs(
                api_groups=list(rule.api_groups),
                resources=list(rule.resources),
                verbs=list(rule.verbs),
                resource_names=list(rule.resource_names) or None,
            )
            for rule in access.rules
        ],
        opts=place.options(),
    )
    binding = rbac.RoleBinding(
        f"{place.prefix}-role-binding",
        metadata=place.meta(place.name),
        role_ref=rbac.RoleRefArgs(
            api_group="rbac.authorization.k8s.io", kind="Role", name=place.name
        ),
        subjects=[
            rbac.SubjectArgs(kind="ServiceAccount", name=place.name, namespace=place.namespace)
        ],
        opts=place.options(depends_on=[account, role]),
    )
    return [account, role, binding]
