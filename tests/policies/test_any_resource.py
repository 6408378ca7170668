"""The pack judges any resource of a kind, not only the shapes our runtime emits.

Every pod spec wherever it appears, every container list, pod/container precedence;
and the real prod render edited the way operators break it (field failures 6 and 11).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ops.check import check_render
from tests.conftest import cached_render, render_json
from tests.policies.conftest import (
    DATA_LABELS,
    LABELS,
    Resource,
    baseline,
    container,
    find,
    pod_template,
    prod_config,
    resource,
)

K = "kubernetes:"
POD_KINDS: dict[str, str] = {
    "Pod": f"{K}core/v1:Pod",
    "PodTemplate": f"{K}core/v1:PodTemplate",
    "Deployment": f"{K}apps/v1:Deployment",
    "StatefulSet": f"{K}apps/v1:StatefulSet",
    "DaemonSet": f"{K}apps/v1:DaemonSet",
    "ReplicaSet": f"{K}apps/v1:ReplicaSet",
    "ReplicationController": f"{K}core/v1:ReplicationController",
    "Job": f"{K}batch/v1:Job",
    "CronJob": f"{K}batch/v1:CronJob",
    "DeploymentPatch": f"{K}apps/v1:DeploymentPatch",
}


def workload(kind: str) -> tuple[Resource, dict[str, Any]]:
    """A compliant resource of `kind` and (a reference to) its pod spec."""
    template = pod_template(LABELS)
    metadata = {"name": f"w-{kind.lower()}", "namespace": "dp-prod", "labels": dict(LABELS)}
    selector = {"matchLabels": {"app.kubernetes.io/name": "web"}}
    if kind == "Pod":
        inputs: dict[str, Any] = {"metadata": metadata, "spec": template["spec"]}
    elif kind == "PodTemplate":
        inputs = {"metadata": metadata, "template": template}
    elif kind == "CronJob":
        job = {"template": template | {"spec": template["spec"] | {"restartPolicy": "Never"}}}
        inputs = {
            "metadata": metadata,
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": job}},
        }
    else:
        inputs = {"metadata": metadata, "spec": {"selector": selector, "template": template}}
        if kind in ("Deployment", "ReplicaSet", "ReplicationController", "DeploymentPatch"):
            inputs["spec"]["replicas"] = 2
        if kind == "Job":
            template["spec"]["restartPolicy"] = "Never"
    if kind == "StatefulSet":
        metadata["labels"] = dict(DATA_LABELS)
    made = resource(POD_KINDS[kind], f"w-{kind.lower()}", inputs, protect=kind == "StatefulSet")
    spec = made["inputs"]
    for key in {
        "Pod": ("spec",),
        "PodTemplate": ("template", "spec"),
        "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    }.get(kind, ("spec", "template", "spec")):
        spec = spec[key]
    return made, spec


@pytest.mark.parametrize("kind", POD_KINDS)
def test_a_compliant_pod_spec_of_every_kind_passes(evaluate, kind: str) -> None:
    made, _ = workload(kind)
    result = evaluate([*baseline(), made])
    assert result.violations == [], result.format()


@pytest.mark.parametrize("list_name", ["containers", "initContainers", "ephemeralContainers"])
@pytest.mark.parametrize("kind", POD_KINDS)
def test_every_container_list_of_every_kind_is_judged(evaluate, kind: str, list_name: str) -> None:
    made, spec = workload(kind)
    bad = container("intruder")
    bad["securityContext"].update(privileged=True, runAsUser=0)
    bad["ports"] = [{"containerPort": 22, "hostPort": 22}]
    if list_name == "ephemeralContainers":
        for key in ("resources", "readinessProbe", "livenessProbe", "ports"):
            bad.pop(key)
    spec.setdefault(list_name, []).append(bad)
    fired = {
        (v.policy, v.message.split(" is ")[0]) for v in evaluate([*baseline(), made]).violations
    }
    prefix = (
        {"initContainers": "init ", "ephemeralContainers": "ephemeral "}[list_name]
        if (list_name != "containers")
        else ""
    )
    assert ("pod-no-privileged-containers", f"{prefix}container 'intruder'") in fired
    policies = {p for p, _ in fired}
    assert "pod-run-as-non-root" in policies
    assert ("pod-no-host-ports" in policies) == (list_name != "ephemeralContainers")


def test_container_context_overrides_the_pod(evaluate) -> None:
    """runAsNonRoot and seccompProfile set on a container win over the pod's."""
    stack = baseline()
    spec = find(stack, "web")["inputs"]["spec"]["template"]["spec"]
    spec["securityContext"] = {"runAsNonRoot": False, "seccompProfile": {"type": "Unconfined"}}
    assert evaluate(stack).violations == []  # every container sets both itself
    spec["containers"][0]["securityContext"].pop("seccompProfile")
    fired = {v.policy for v in evaluate(stack).violations}
    assert fired == {"pod-seccomp-profile"}


def test_run_to_completion_and_helper_containers_need_no_probes(evaluate) -> None:
    stack = baseline()
    spec = find(stack, "web")["inputs"]["spec"]["template"]["spec"]
    helper = container("init")
    helper.pop("readinessProbe")
    helper.pop("livenessProbe")
    spec["initContainers"] = [helper]
    assert evaluate(stack).violations == []
    pod, pod_spec = workload("Pod")
    pod_spec["restartPolicy"] = "Never"
    for entry in pod_spec["containers"]:
        entry.pop("readinessProbe")
    assert evaluate([*baseline(), pod]).violations == []
    pod_spec["restartPolicy"] = "Always"
    assert {v.policy for v in evaluate([*baseline(), pod]).violations} == {"pod-health-probes"}


def _minio(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]], args: list[str]) -> Any:
    stack = baseline()
    spec = find(stack, "db")["inputs"]["spec"]["template"]["spec"]
    server = spec["containers"][0]
    server.update(image="quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", args=args)
    server["env"].append({"name": "HOME", "value": "/tmp"})
    server["volumeMounts"] = mounts
    spec["volumes"] = volumes
    return stack


TLS_ITEMS = [{"key": "crt", "path": "public.crt"}, {"key": "key", "path": "private.key"}]


def test_minio_with_certificates_in_its_certs_dir_passes(evaluate) -> None:
    secret = {"name": "tls", "secret": {"secretName": "minio-tls", "items": TLS_ITEMS}}
    mount = {"name": "tls", "mountPath": "/certs", "readOnly": True}
    stack = _minio([secret], [mount], ["server", "/data", "--certs-dir", "/certs"])
    assert evaluate(stack).violations == []
    # The default certs dir is ${HOME}/.minio/certs: the same mount there also passes.
    mount["mountPath"] = "/tmp/.minio/certs"
    stack = _minio([secret], [mount], ["server", "/data"])
    assert evaluate(stack).violations == []
    # A Secret without the key file does not.
    secret["secret"]["items"] = TLS_ITEMS[:1]
    fired = [v.message for v in evaluate(stack).violations if v.policy == "minio-server-tls"]
    assert fired and "/tmp/.minio/certs" in fired[0]


def test_unknown_values_in_new_rules_do_not_crash(evaluate) -> None:
    stack = copy.deepcopy(baseline())
    find(stack, "web-pdb")["inputs"]["spec"] = "[unknown]"
    find(stack, "deny")["inputs"]["spec"]["ingress"] = "[unknown]"
    find(stack, "minio-provider")["inputs"]["minioSsl"] = "[unknown]"
    find(stack, "pg-provider")["inputs"]["sslmode"] = "[unknown]"
    find(stack, "data-policy")["inputs"]["policy"] = "[unknown]"
    find(stack, "dp-prod-audit-retention")["inputs"]["validityPeriod"] = "[unknown]"
    find(stack, "dp-prod-audit")["inputs"]["objectLocking"] = "[unknown]"
    find(stack, "web")["inputs"]["spec"]["template"]["spec"]["initContainers"] = "[unknown]"
    find(stack, "files")["inputs"]["binaryData"] = {"x": "[unknown]"}
    assert evaluate(stack).violations == []


# --- the real prod render, edited as operators break it --------------------------------


def _prod() -> dict[str, Any]:
    return copy.deepcopy(render_json(cached_render("prod")))


def _fired(analyzer, render: dict[str, Any], policy: str) -> list[str]:
    result = check_render(render, analyzer=analyzer, policy_document=prod_config())
    return [v.message for v in result.violations if v.policy == policy]


@pytest.mark.parametrize(
    "budget", [{"maxUnavailable": 0}, {"minAvailable": 3}, {"maxUnavailable": "0%"}]
)
def test_field_failure_6_drain_blocking_budget_on_the_real_prod_render(
    analyzer, budget: dict[str, Any]
) -> None:
    """../shared/field-cases/09: the trino-worker PDB edited to block every eviction."""
    render = _prod()
    assert _fired(analyzer, render, "disruption-budget-allows-eviction") == []
    budgets = [
        r
        for r in render["resources"]
        if r["type"].endswith(":PodDisruptionBudget") and "trino-worker" in r["name"]
    ]
    assert budgets, "prod no longer renders the trino-worker PodDisruptionBudget"
    for entry in budgets:
        entry["inputs"]["spec"].pop("maxUnavailable", None)
        entry["inputs"]["spec"].update(budget)
    [message] = _fired(analyzer, render, "disruption-budget-allows-eviction")
    assert "allows no voluntary eviction of its 3 pod(s) (trino-worker)" in message


LAKE_OVER_HTTP = """connector.name=iceberg
s3.endpoint=http://minio-server.dp-prod.svc.cluster.local:9000
s3.aws-access-key=${ENV:TRINO_S3_ACCESS_KEY}
s3.aws-secret-key=${ENV:TRINO_S3_SECRET_KEY}
"""


def test_field_failure_11_minio_without_tls_on_the_real_prod_render(analyzer) -> None:
    """Prod MinIO served S3 in clear: the server, the provider and the S3 clients are judged."""
    render = _prod()
    for policy in ("minio-server-tls", "provider-connections-use-tls"):
        assert _fired(analyzer, render, policy) == [], policy
    assert _fired(analyzer, render, "credentials-not-sent-over-http") == []
    for entry in render["resources"]:
        if entry["type"] == "pulumi:providers:minio":
            entry["inputs"]["minioSsl"] = "false"
        # A real preview hands the pack a Secret's plaintext; offline it is "[secret]".
        for key in entry["inputs"].get("stringData") or {}:
            if key.endswith("catalog-lake.properties"):
                entry["inputs"]["stringData"][key] = LAKE_OVER_HTTP
        if entry["type"].endswith(":StatefulSet") and "minio" in entry["name"]:
            server = entry["inputs"]["spec"]["template"]["spec"]["containers"][0]
            server["args"] = [a for a in server["args"] if a not in ("--certs-dir", "/tmp/certs")]
            server["command"] = ["minio"]
    assert _fired(analyzer, render, "minio-server-tls")
    assert any("minioSsl" in m for m in _fired(analyzer, render, "provider-connections-use-tls"))
    assert any(
        "s3.endpoint=http://minio" in m
        for m in _fired(analyzer, render, "credentials-not-sent-over-http")
    )


def test_a_load_balancer_restricted_to_private_ranges_is_not_public_exposure(evaluate) -> None:
    """An admin load balancer admitting only the admin network (RFC 1918) passes in prod."""
    stack = baseline()
    spec = find(stack, "web-svc")["inputs"]["spec"]
    spec.update(type="LoadBalancer", loadBalancerSourceRanges=["10.40.12.0/24", "fd00::/8"])
    assert evaluate(stack).violations == []
    spec["loadBalancerSourceRanges"] = ["0.0.0.0/0"]
    assert {v.policy for v in evaluate(stack).violations} == {"service-external-exposure-allowed"}
