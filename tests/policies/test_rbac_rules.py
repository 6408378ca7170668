"""RBAC rules (policies/rules/rbac.py) on any Role/binding and on the real Dagster roles.

The run launcher's allowlist is judged on whatever role any pod running Dagster is
bound to (Role or ClusterRole, RoleBinding or ClusterRoleBinding): the Role our
Dagster component renders passes, the upstream Helm chart's broader Role does not.
"""

from __future__ import annotations

import copy
from typing import Any

from components.dagster.files import run_launcher_role_rules
from ops.check import check_render
from tests.conftest import cached_render, render_json
from tests.policies.conftest import Resource, baseline, find, prod_config, resource

RBAC = "kubernetes:rbac.authorization.k8s.io/v1:"
LAUNCHER = "dagster-run-launcher-least-privilege"
HELM_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
HELM_CHART_ROLE = [
    {
        "apiGroups": ["batch"],
        "resources": ["jobs"],
        "verbs": HELM_VERBS,
    },
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get", "list", "watch"]},
    {
        "apiGroups": [""],
        "resources": ["pods", "events"],
        "verbs": HELM_VERBS,
    },
    {
        "apiGroups": [""],
        "resources": ["pods/log", "pods/status"],
        "verbs": ["get", "list", "watch"],
    },
]
"""Dagster's Helm chart Role for the K8s run launcher (../shared/REFERENCE.md)."""


def _daemon(stack: list[Resource], account: str = "launcher") -> None:
    spec = find(stack, "web")["inputs"]["spec"]["template"]["spec"]
    spec["serviceAccountName"] = account
    spec["containers"][0].update(
        image="docker.io/dagster/dagster-k8s:1.13.27",
        command=["sh", "-c", "exec dagster-daemon run -w /opt/dagster/workspace/workspace.yaml"],
    )


def _launcher_messages(result: Any) -> list[str]:
    return [v.message for v in result.violations if v.policy == LAUNCHER]


def test_the_components_run_launcher_role_passes_and_the_helm_chart_role_does_not(
    evaluate,
) -> None:
    stack = copy.deepcopy(baseline())
    _daemon(stack)
    find(stack, "launcher-role")["inputs"]["rules"] = run_launcher_role_rules()
    assert evaluate(stack).violations == []
    find(stack, "launcher-role")["inputs"]["rules"] = copy.deepcopy(HELM_CHART_ROLE)
    [message] = _launcher_messages(evaluate(stack))
    for grant in (
        "batch/jobs:patch",
        "batch/jobs:deletecollection",
        "pods:create",
        "events:update",
    ):
        assert grant in message
    assert "bound to the Dagster workload(s) web by RoleBinding 'launcher-binding'" in message


def test_a_role_of_a_pod_not_running_dagster_is_not_held_to_the_launcher_allowlist(
    evaluate,
) -> None:
    stack = copy.deepcopy(baseline())
    find(stack, "web")["inputs"]["spec"]["template"]["spec"]["serviceAccountName"] = "launcher"
    find(stack, "launcher-role")["inputs"]["rules"].append(
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    )
    assert evaluate(stack).violations == []


def test_a_cluster_role_bound_to_dagster_is_judged_too(evaluate) -> None:
    """A RoleBinding may grant a ClusterRole inside one namespace: its rules count."""
    stack = copy.deepcopy(baseline())
    _daemon(stack)
    stack.append(
        resource(
            f"{RBAC}ClusterRole",
            "broad",
            {
                "metadata": {"name": "broad"},
                "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]}],
            },
        )
    )
    binding = find(stack, "launcher-binding")["inputs"]
    binding["roleRef"] = {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "broad",
    }
    [message] = _launcher_messages(evaluate(stack))
    assert "ClusterRole 'broad'" in message and "apps/deployments:get" in message
    # Bound cluster-wide instead, the same role is also a namespacing violation.
    stack.append(
        resource(
            f"{RBAC}ClusterRoleBinding",
            "broad-everywhere",
            {
                "metadata": {"name": "broad-everywhere"},
                "roleRef": binding["roleRef"],
                "subjects": [
                    {"kind": "ServiceAccount", "name": "launcher", "namespace": "dp-prod"}
                ],
            },
        )
    )
    binding["roleRef"] = {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "launcher",
    }
    fired = {v.policy for v in evaluate(stack).violations}
    assert fired == {LAUNCHER, "rbac-service-accounts-namespaced"}


def test_a_pod_without_service_account_uses_default(evaluate) -> None:
    """No serviceAccountName means the namespace's `default` account."""
    stack = copy.deepcopy(baseline())
    _daemon(stack)
    find(stack, "web")["inputs"]["spec"]["template"]["spec"].pop("serviceAccountName")
    find(stack, "launcher-binding")["inputs"]["subjects"] = [
        {"kind": "ServiceAccount", "name": "default"}
    ]
    find(stack, "launcher-role")["inputs"]["rules"].append(
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["create"]}
    )
    assert "batch/cronjobs:create" in _launcher_messages(evaluate(stack))[0]


def test_unknown_rbac_values_do_not_crash(evaluate) -> None:
    stack = copy.deepcopy(baseline())
    _daemon(stack)
    find(stack, "launcher-role")["inputs"]["rules"] = "[unknown]"
    find(stack, "launcher-binding")["inputs"]["subjects"] = [{"kind": "[unknown]", "name": "x"}]
    find(stack, "web")["inputs"]["spec"]["template"]["spec"]["serviceAccountName"] = "[unknown]"
    assert evaluate(stack).violations == []


def test_real_prod_dagster_roles_pass_and_are_really_read(analyzer) -> None:
    render = copy.deepcopy(render_json(cached_render("prod")))
    roles = [r for r in render["resources"] if r["type"] == f"{RBAC}Role"]
    assert roles, "prod no longer renders a Role"
    result = check_render(render, analyzer=analyzer, policy_document=prod_config())
    assert not [v for v in result.violations if v.policy.startswith(("rbac-", "dagster-"))]
    for role in roles:
        role["inputs"]["rules"].append(
            {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
        )
    result = check_render(render, analyzer=analyzer, policy_document=prod_config())
    secrets = [v for v in result.violations if v.policy == "rbac-no-secrets-access"]
    launcher = _launcher_messages(result)
    assert len(secrets) == len(roles)
    assert len(launcher) == len(roles) and all("secrets:get" in m for m in launcher)
