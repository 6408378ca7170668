"""Every report_violation path of every policy, triggered from the compliant baseline.

Each case mutates one property of the baseline and expects exactly the policy that
governs that property to fire (no overlap), with a message naming the problem.
docs/policies.md counts these cases per policy.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.policies.conftest import Resource, baseline, find, prod_config, resource

Mutation = Callable[[list[Resource]], None]


@dataclass(frozen=True)
class Case:
    """One violation path: a mutation, the policy expected to fire, a message fragment."""

    id: str
    policy: str
    mutate: Mutation
    fragment: str
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    also: frozenset[str] = frozenset()


def web(stack: list[Resource]) -> dict[str, Any]:
    """The Deployment's first container."""
    return find(stack, "web")["inputs"]["spec"]["template"]["spec"]["containers"][0]


def web_pod(stack: list[Resource]) -> dict[str, Any]:
    """The Deployment's pod spec."""
    return find(stack, "web")["inputs"]["spec"]["template"]["spec"]


def box(stack: list[Resource]) -> dict[str, Any]:
    """The Docker container's inputs."""
    return find(stack, "box")["inputs"]


def files(stack: list[Resource]) -> dict[str, str]:
    """The ConfigMap's data."""
    return find(stack, "files")["inputs"]["data"]


def edit_conf(old: str, new: str) -> Mutation:
    """Replace text in the ConfigMap's postgresql.conf."""

    def mutate(stack: list[Resource]) -> None:
        data = files(stack)
        data["etc-postgresql-postgresql.conf"] = data["etc-postgresql-postgresql.conf"].replace(
            old, new
        )

    return mutate


def edit_rules(change: Callable[[dict[str, Any]], None]) -> Mutation:
    """Edit the ConfigMap's Trino rules.json."""

    def mutate(stack: list[Resource]) -> None:
        data = files(stack)
        rules = json.loads(data["etc-trino-rules.json"])
        change(rules)
        data["etc-trino-rules.json"] = json.dumps(rules)

    return mutate


def remove(name: str) -> Mutation:
    """Drop a resource."""
    return lambda stack: stack.remove(find(stack, name))


def labels_of(stack: list[Resource], name: str) -> dict[str, str]:
    """metadata.labels of a Kubernetes resource."""
    return find(stack, name)["inputs"]["metadata"]["labels"]


def set_docker_label(name: str, key: str, value: str | None) -> Mutation:
    """Set (or drop, with None) one Docker label."""

    def mutate(stack: list[Resource]) -> None:
        entries = find(stack, name)["inputs"]["labels"]
        entries[:] = [e for e in entries if e["label"] != key]
        if value is not None:
            entries.append({"label": key, "value": value})

    return mutate


def _set(target: Callable[[list[Resource]], dict[str, Any]], key: str, value: Any) -> Mutation:
    def mutate(stack: list[Resource]) -> None:
        if value is None:
            target(stack).pop(key, None)
        else:
            target(stack)[key] = value

    return mutate


def _sc(stack: list[Resource]) -> dict[str, Any]:
    return web(stack)["securityContext"]


def db_pod(stack: list[Resource]) -> dict[str, Any]:
    """The StatefulSet's pod spec."""
    return find(stack, "db")["inputs"]["spec"]["template"]["spec"]


def extra_container(list_name: str, **changes: Any) -> Mutation:
    """Add a copy of the compliant container to another list of the web pod spec."""

    def mutate(stack: list[Resource]) -> None:
        added = copy.deepcopy(web(stack)) | {"name": f"extra-{list_name}"}
        if list_name == "ephemeralContainers":
            for key in ("resources", "readinessProbe", "livenessProbe"):
                added.pop(key)
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(added.get(key), dict):
                added[key] = added[key] | value
            elif value is None:
                added.pop(key, None)
            else:
                added[key] = value
        web_pod(stack).setdefault(list_name, []).append(added)

    return mutate


def add(type_token: str, name: str, inputs: dict[str, Any]) -> Mutation:
    """Append a resource."""
    return lambda stack: stack.append(resource(type_token, name, inputs))


def network_policy(name: str, spec: dict[str, Any]) -> Mutation:
    """Append a NetworkPolicy in dp-prod."""
    labels = {"dataplatform.io/environment": "prod"}
    return add(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        name,
        {"metadata": {"name": name, "namespace": "dp-prod", "labels": labels}, "spec": spec},
    )


def pdb(name: str, spec: dict[str, Any]) -> Mutation:
    """Append a PodDisruptionBudget in dp-prod."""
    return add(
        "kubernetes:policy/v1:PodDisruptionBudget",
        name,
        {"metadata": {"name": name, "namespace": "dp-prod"}, "spec": spec},
    )


WEB_SELECTOR = {"matchLabels": {"app.kubernetes.io/name": "web"}}
DB_ONLY = {
    "matchExpressions": [{"key": "dataplatform.io/data-classification", "operator": "Exists"}]
}


def set_pdb(**spec: Any) -> Mutation:
    """Replace the web PDB's budget (selector kept)."""

    def mutate(stack: list[Resource]) -> None:
        budget = find(stack, "web-pdb")["inputs"]["spec"]
        budget.pop("maxUnavailable", None)
        budget.update(spec)

    return mutate


def iam_policy(statement: dict[str, Any]) -> Mutation:
    """Append a MinIO IamPolicy with one statement."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow"} | statement]}
    return add(
        "minio:index/iamPolicy:IamPolicy", "p", {"name": "p", "policy": json.dumps(document)}
    )


def minio_server(stack: list[Resource]) -> None:
    """Turn the db StatefulSet into a MinIO server without certificates."""
    container = db_pod(stack)["containers"][0]
    container.update(image="quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z")
    container["args"] = ["server", "/data", "--address", ":9000"]


def provider(name: str, **inputs: Any) -> Mutation:
    """Change a provider's inputs (None removes one)."""

    def mutate(stack: list[Resource]) -> None:
        props = find(stack, name)["inputs"]
        for key, value in inputs.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = value

    return mutate


def retention(**inputs: Any) -> Mutation:
    """Change the audit bucket's default retention."""
    return lambda stack: find(stack, "dp-prod-audit-retention")["inputs"].update(inputs)


BROKER = "etc-kafka-broker-server.properties"
CONTROLLER = "etc-kafka-controller-server.properties"
CLIENT = "etc-kafka-client.properties"


def kafka_setting(file: str, key: str, value: str | None) -> Mutation:
    """Set (or drop, with None) one key of a Kafka properties file in the kafka ConfigMap."""

    def mutate(stack: list[Resource]) -> None:
        data = find(stack, "kafka-files")["inputs"]["data"]
        lines = [line for line in data[file].splitlines() if not line.startswith(f"{key}=")]
        if value is not None:
            lines.append(f"{key}={value}")
        data[file] = "\n".join(lines) + "\n"

    return mutate


def topic_input(key: str, value: Any) -> Mutation:
    """Set (or drop, with None) an input of the sales.orders Topic; `config.X` edits its config."""

    def mutate(stack: list[Resource]) -> None:
        inputs = find(stack, "sales.orders")["inputs"]
        target, name = (
            (inputs["config"], key[len("config.") :])
            if key.startswith("config.")
            else (inputs, key)
        )
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value

    return mutate


def topic_fact(key: str, value: Any) -> Mutation:
    """Set (or drop, with None) a governance input of the Topic's parent component."""

    def mutate(stack: list[Resource]) -> None:
        inputs = find(stack, "topic-sales.orders")["inputs"]
        if value is None:
            inputs.pop(key, None)
        else:
            inputs[key] = value

    return mutate


def role_rule(rule: dict[str, Any], name: str = "launcher-role") -> Mutation:
    """Append a rule to a Role of the baseline."""
    return lambda stack: find(stack, name)["inputs"]["rules"].append(rule)


def binding_subject(subject: dict[str, Any], kind: str = "RoleBinding") -> Mutation:
    """Append a binding of the launcher Role (or a ClusterRoleBinding) with one subject."""
    return add(
        f"kubernetes:rbac.authorization.k8s.io/v1:{kind}",
        f"extra-{kind.lower()}",
        {
            "metadata": {"name": "extra", "namespace": "dp-prod"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "launcher",
            },
            "subjects": [subject],
        },
    )


def dagster_daemon(stack: list[Resource]) -> None:
    """Make the web Deployment run dagster-daemon as the launcher account."""
    web(stack)["command"] = ["dagster-daemon", "run", "-w", "/opt/dagster/workspace.yaml"]
    web_pod(stack)["serviceAccountName"] = "launcher"


def socket_box(*, read_only: bool = True, ports: bool = False, networks: int = 1) -> Mutation:
    """Give the Docker container the engine socket (and ports/networks as asked)."""

    def mutate(stack: list[Resource]) -> None:
        inputs = box(stack)
        inputs["mounts"].append(
            {
                "type": "bind",
                "source": "/var/run/docker.sock",
                "target": "/var/run/docker.sock",
                "readOnly": read_only,
            }
        )
        if not ports:
            inputs.pop("ports")
        inputs["networksAdvanced"] = [{"name": f"net-{i}"} for i in range(networks)]

    return mutate


def kafka_env(**env: str) -> Mutation:
    """Add env literals to the web container."""
    return lambda stack: web(stack)["env"].extend({"name": k, "value": v} for k, v in env.items())


SOCKET_ALSO = frozenset({"pod-no-host-path-volumes"})

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"

CASES = [
    # ownership
    Case(
        "ownership-resource-labels",
        "workload-ownership-labels",
        lambda s: labels_of(s, "ns").pop("dataplatform.io/owner"),
        "lacks labels: dataplatform.io/owner",
    ),
    Case(
        "ownership-pod-labels",
        "workload-ownership-labels",
        lambda s: find(s, "web")["inputs"]["spec"]["template"]["metadata"]["labels"].pop(
            "dataplatform.io/cost-center"
        ),
        "the pods of 'web' lack labels",
    ),
    Case(
        "ownership-docker-labels",
        "workload-ownership-labels",
        set_docker_label("box", "dataplatform.io/owner", None),
        "lacks labels",
    ),
    Case(
        "classification-missing",
        "data-store-classification-label",
        lambda s: labels_of(s, "claim").pop("dataplatform.io/data-classification"),
        "stores data but has no",
    ),
    Case(
        "classification-invalid",
        "data-store-classification-label",
        set_docker_label("box-data", "dataplatform.io/data-classification", "secret"),
        "'secret'; allowed",
    ),
    # images
    Case(
        "image-untagged",
        "image-tag-pinned",
        _set(web, "image", "docker.io/trinodb/trino"),
        "without a tag",
    ),
    Case(
        "image-latest",
        "image-tag-pinned",
        lambda s: find(s, "img")["inputs"].update(name="quay.io/minio/minio:latest"),
        "latest tag",
    ),
    Case(
        "image-registry",
        "image-registry-allowed",
        _set(web, "image", "evil.example.com/trino:470"),
        "not an allowed registry",
    ),
    Case(
        "image-digest",
        "image-digest-required",
        lambda s: None,
        "requires '@sha256:' digests",
        config={"image-digest-required": {"requireDigest": True}},
    ),
    # pod security
    Case(
        "non-root-unset",
        "pod-run-as-non-root",
        lambda s: _sc(s).update(runAsNonRoot=False),
        "runAsNonRoot: true",
    ),
    Case(
        "non-root-uid0", "pod-run-as-non-root", lambda s: _sc(s).update(runAsUser=0), "runAsUser: 0"
    ),
    Case("non-root-docker", "pod-run-as-non-root", _set(box, "user", "root"), "runs as root"),
    Case(
        "privileged-k8s",
        "pod-no-privileged-containers",
        lambda s: _sc(s).update(privileged=True),
        "is privileged",
    ),
    Case(
        "privileged-docker",
        "pod-no-privileged-containers",
        _set(box, "privileged", True),
        "is privileged",
    ),
    Case(
        "escalation-k8s",
        "pod-no-privilege-escalation",
        lambda s: _sc(s).update(allowPrivilegeEscalation=True),
        "allowPrivilegeEscalation: false",
    ),
    Case(
        "escalation-docker",
        "pod-no-privilege-escalation",
        _set(box, "securityOpts", []),
        "no-new-privileges",
    ),
    Case(
        "caps-drop-k8s",
        "pod-capabilities-drop-all",
        lambda s: _sc(s).update(capabilities={"drop": ["NET_RAW"]}),
        "does not drop ALL",
    ),
    Case(
        "caps-add-k8s",
        "pod-capabilities-drop-all",
        lambda s: _sc(s).update(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "adds capabilities SYS_ADMIN",
    ),
    Case(
        "caps-drop-docker",
        "pod-capabilities-drop-all",
        _set(box, "capabilities", {"drops": []}),
        "does not drop ALL",
    ),
    Case(
        "caps-add-docker",
        "pod-capabilities-drop-all",
        _set(box, "capabilities", {"drops": ["ALL"], "adds": ["NET_ADMIN"]}),
        "adds capabilities NET_ADMIN",
    ),
    Case(
        "seccomp-k8s",
        "pod-seccomp-profile",
        lambda s: _sc(s).update(seccompProfile={"type": "Unconfined"}),
        "seccompProfile Unconfined",
    ),
    Case(
        "seccomp-docker",
        "pod-seccomp-profile",
        _set(box, "securityOpts", ["no-new-privileges:true", "seccomp=unconfined"]),
        "disables seccomp",
    ),
    Case(
        "host-namespace-k8s",
        "pod-no-host-namespaces",
        _set(web_pod, "hostPID", True),
        "hostPID: true",
    ),
    Case(
        "host-namespace-docker",
        "pod-no-host-namespaces",
        _set(box, "networkMode", "host"),
        "networkMode",
    ),
    Case(
        "host-path-k8s",
        "pod-no-host-path-volumes",
        lambda s: web_pod(s)["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
        "is a hostPath",
    ),
    Case(
        "host-path-docker",
        "pod-no-host-path-volumes",
        lambda s: box(s)["mounts"].append({"type": "bind", "source": "/etc", "target": "/x"}),
        "bind-mounts host paths: /etc",
    ),
    Case(
        "requests",
        "pod-resource-requests-and-limits",
        lambda s: web(s)["resources"].pop("requests"),
        "no cpu and memory requests",
    ),
    Case(
        "limits",
        "pod-resource-requests-and-limits",
        lambda s: web(s)["resources"]["limits"].pop("memory"),
        "no memory limits",
    ),
    Case(
        "limits-docker",
        "pod-resource-requests-and-limits",
        _set(box, "cpus", None),
        "no cpus limit",
    ),
    Case("readiness", "pod-health-probes", _set(web, "readinessProbe", None), "no readinessProbe"),
    Case("liveness", "pod-health-probes", _set(web, "livenessProbe", None), "no livenessProbe"),
    Case(
        "healthcheck-docker", "pod-health-probes", _set(box, "healthcheck", None), "no healthcheck"
    ),
    # network
    Case(
        "default-deny-missing",
        "namespace-default-deny-network-policy",
        remove("deny"),
        "has no default-deny",
    ),
    Case(
        "default-deny-partial",
        "namespace-default-deny-network-policy",
        lambda s: find(s, "deny")["inputs"]["spec"].update(policyTypes=["Ingress"]),
        "Egress stays open",
    ),
    Case(
        "service-exposed",
        "service-external-exposure-allowed",
        lambda s: find(s, "web-svc")["inputs"]["spec"].update(type="LoadBalancer"),
        "type LoadBalancer",
    ),
    Case(
        "docker-port-all-interfaces",
        "docker-ports-bind-loopback",
        lambda s: box(s)["ports"][0].pop("ip"),
        "port 9000 of 'box' binds to every interface",
    ),
    Case(
        "docker-port-public-ip",
        "docker-ports-bind-loopback",
        lambda s: box(s)["ports"][0].update(ip="0.0.0.0"),
        "binds to 0.0.0.0",
    ),
    # secrets
    Case(
        "env-k8s",
        "no-plaintext-credentials-in-env",
        lambda s: web(s)["env"].append({"name": "REDASH_SECRET_KEY", "value": "abc123"}),
        "env REDASH_SECRET_KEY",
    ),
    Case(
        "env-docker",
        "no-plaintext-credentials-in-env",
        lambda s: box(s)["envs"].append("MINIO_ROOT_PASSWORD=hunter2"),
        "env MINIO_ROOT_PASSWORD",
    ),
    Case(
        "env-url",
        "no-plaintext-credentials-in-env",
        lambda s: web(s)["env"].append(
            {"name": "DATABASE_URL", "value": "postgresql://app:hunter2@db/app"}
        ),
        "carries a URL with a password",
    ),
    Case(
        "config-file-k8s",
        "no-plaintext-credentials-in-config-files",
        lambda s: files(s).update({"app.properties": "db.user=app\ndb.password=hunter2\n"}),
        "db.password is set in plain text",
    ),
    Case(
        "config-file-docker",
        "no-plaintext-credentials-in-config-files",
        lambda s: box(s)["uploads"].append({"file": "/etc/app.yaml", "content": "token: abc123\n"}),
        "token is set in plain text",
    ),
    Case(
        "config-file-url",
        "no-plaintext-credentials-in-config-files",
        lambda s: files(s).update(
            {"x.properties": "connection-url=jdbc:postgresql://app:hunter2@db/x\n"}
        ),
        "carries a URL with a password",
    ),
    # object storage
    Case(
        "versioning-missing",
        "bucket-versioning-enabled",
        remove("dp-prod-data-v"),
        "has no S3BucketVersioning",
    ),
    Case(
        "versioning-suspended",
        "bucket-versioning-enabled",
        lambda s: find(s, "dp-prod-data-v")["inputs"].update(
            versioningConfiguration={"status": "Suspended"}
        ),
        "Suspended, not Enabled",
    ),
    Case(
        "lifecycle-missing",
        "bucket-lifecycle-policy",
        remove("dp-prod-data-ilm"),
        "has no IlmPolicy",
    ),
    Case(
        "lifecycle-disabled",
        "bucket-lifecycle-policy",
        lambda s: find(s, "dp-prod-data-ilm")["inputs"]["rules"][0].update(status="Disabled"),
        "without an enabled rule",
    ),
    Case(
        "public-acl",
        "bucket-no-public-access",
        lambda s: find(s, "dp-prod-data")["inputs"].update(acl="public-read"),
        "ACL is 'public-read'",
    ),
    Case(
        "public-policy-invalid",
        "bucket-no-public-access",
        lambda s: find(s, "data-policy")["inputs"].update(policy="{not json"),
        "not valid JSON",
    ),
    Case(
        "public-policy-anonymous",
        "bucket-no-public-access",
        lambda s: find(s, "data-policy")["inputs"].update(
            policy=json.dumps(
                {
                    "Statement": [
                        {
                            "Sid": "anon",
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": ["s3:GetObject"],
                            "Resource": ["arn:aws:s3:::dp-prod-data/*"],
                        }
                    ]
                }
            )
        ),
        "anonymous access",
    ),
    Case(
        "audit-expiration",
        "audit-bucket-never-expires",
        lambda s: find(s, "dp-prod-audit-ilm")["inputs"]["rules"][0].update(expiration="365d"),
        "expires objects (365d)",
    ),
    Case(
        "audit-noncurrent",
        "audit-bucket-never-expires",
        lambda s: find(s, "dp-prod-audit-ilm")["inputs"]["rules"][0].update(
            noncurrentVersionExpirationDays=30
        ),
        "after 30 days",
    ),
    # audit
    Case(
        "pgaudit-not-preloaded",
        "postgres-pgaudit-preloaded",
        edit_conf(
            "shared_preload_libraries = 'pgaudit'",
            "shared_preload_libraries = 'pg_stat_statements'",
        ),
        "does not include pgaudit",
    ),
    Case(
        "pgaudit-classes",
        "postgres-pgaudit-log-classes",
        edit_conf("pgaudit.log = 'ddl, role, write'", "pgaudit.log = 'all, -write'"),
        "misses write",
    ),
    Case(
        "log-connections",
        "postgres-log-connections",
        edit_conf("log_connections = on", "log_connections = off"),
        "log_connections not on",
    ),
    Case("tls", "postgres-tls-required", edit_conf("ssl = on", "ssl = off"), "ssl = off"),
    # access
    Case(
        "trino-not-file",
        "trino-file-access-control",
        lambda s: files(s).update(
            {"etc-trino-access-control.properties": "access-control.name=allow-all\n"}
        ),
        "must use 'file'",
    ),
    Case(
        "trino-no-rules-file",
        "trino-file-access-control",
        lambda s: files(s).update(
            {"etc-trino-access-control.properties": "access-control.name=file\n"}
        ),
        "without security.config-file",
    ),
    Case(
        "trino-without-access-control",
        "trino-file-access-control",
        lambda s: files(s).pop("etc-trino-access-control.properties"),
        "no access-control.properties",
    ),
    Case(
        "rules-invalid-json",
        "trino-rules-explicit-deny",
        lambda s: files(s).update({"etc-trino-rules.json": "{"}),
        "not valid JSON",
    ),
    Case(
        "rules-no-final-deny",
        "trino-rules-explicit-deny",
        edit_rules(lambda r: r["catalogs"].pop()),
        "last 'catalogs' rule grants access",
    ),
    Case(
        "rules-narrow-deny",
        "trino-rules-explicit-deny",
        edit_rules(lambda r: r["tables"][-1].update(user="bob")),
        "narrowed by user",
    ),
    Case(
        "pii-unmasked",
        "trino-pii-columns-masked",
        edit_rules(lambda r: r["tables"][1]["columns"][0].pop("mask")),
        "exposes PII column 'email'",
    ),
    Case(
        "pii-omitted",
        "trino-pii-columns-masked",
        edit_rules(
            lambda r: r["tables"].insert(
                2, {"group": "bi", "catalog": "lake", "privileges": ["SELECT"]}
            )
        ),
        "without masking PII columns email, ssn",
    ),
    Case(
        "pii-broad-rule-first",
        "trino-pii-columns-masked",
        edit_rules(
            lambda r: r["tables"].insert(
                0, {"group": "analysts", "catalog": ".*", "privileges": ["SELECT"]}
            )
        ),
        "grants ['SELECT'] on lake..*..* to analysts without masking PII columns email, ssn",
    ),
    # durability
    Case(
        "unprotected",
        "stateful-resources-protected",
        lambda s: find(s, "appdb")["options"].update(protect=False),
        "is not protected",
    ),
    Case(
        "pvc-size",
        "volumes-have-size",
        lambda s: find(s, "claim")["inputs"]["spec"]["resources"]["requests"].pop("storage"),
        "PVC 'claim' requests no valid storage",
    ),
    Case(
        "claim-template-size",
        "volumes-have-size",
        lambda s: find(s, "db")["inputs"]["spec"]["volumeClaimTemplates"][0]["spec"]["resources"][
            "requests"
        ].update(storage="lots"),
        "volumeClaimTemplate 'data'",
    ),
    Case(
        "docker-volume-size",
        "volumes-have-size",
        set_docker_label("box-data", "dataplatform.io/requested-size", None),
        "Docker volume 'box-data'",
    ),
    Case(
        "replicas",
        "stateless-replicas-with-disruption-budget",
        lambda s: find(s, "web")["inputs"]["spec"].update(replicas=1),
        "runs 1 replica(s)",
    ),
    Case(
        "no-pdb",
        "stateless-replicas-with-disruption-budget",
        remove("web-pdb"),
        "no PodDisruptionBudget",
    ),
    # pod security: every list, every kind, pod/container precedence
    Case(
        "non-root-init-container",
        "pod-run-as-non-root",
        extra_container("initContainers", securityContext={"runAsUser": 0}),
        "init container 'extra-initContainers' sets runAsUser: 0",
    ),
    Case(
        "non-root-container-overrides-pod",
        "pod-run-as-non-root",
        lambda s: (
            _sc(s).update(runAsNonRoot=False)
            or web_pod(s)["securityContext"].update(runAsNonRoot=True)
        ),
        "container 'app' does not set securityContext.runAsNonRoot",
    ),
    Case(
        "non-root-pod-level-only",
        "pod-run-as-non-root",
        lambda s: [
            _sc(s).pop("runAsNonRoot"),
            web_pod(s)["securityContext"].update(runAsNonRoot=False),
        ],
        "does not set securityContext.runAsNonRoot",
    ),
    Case(
        "privileged-ephemeral",
        "pod-no-privileged-containers",
        extra_container("ephemeralContainers", securityContext={"privileged": True}),
        "ephemeral container 'extra-ephemeralContainers' is privileged",
    ),
    Case(
        "escalation-init",
        "pod-no-privilege-escalation",
        extra_container("initContainers", securityContext={"allowPrivilegeEscalation": True}),
        "init container 'extra-initContainers' does not set allowPrivilegeEscalation",
    ),
    Case(
        "caps-ephemeral",
        "pod-capabilities-drop-all",
        extra_container(
            "ephemeralContainers",
            securityContext={"capabilities": {"drop": ["ALL"], "add": ["SYS_PTRACE"]}},
        ),
        "ephemeral container 'extra-ephemeralContainers' adds capabilities SYS_PTRACE",
    ),
    Case(
        "seccomp-pod-level",
        "pod-seccomp-profile",
        lambda s: [
            _sc(s).pop("seccompProfile"),
            web_pod(s)["securityContext"].update(seccompProfile={"type": "Unconfined"}),
        ],
        "seccompProfile Unconfined",
    ),
    Case(
        "seccomp-init-unset",
        "pod-seccomp-profile",
        lambda s: [
            web_pod(s)["securityContext"].pop("seccompProfile"),
            extra_container("initContainers", securityContext={"seccompProfile": None})(s),
        ],
        "init container 'extra-initContainers' has seccompProfile unset",
    ),
    Case(
        "host-network",
        "pod-no-host-namespaces",
        _set(web_pod, "hostNetwork", True),
        "hostNetwork: true",
    ),
    Case(
        "host-ipc-statefulset",
        "pod-no-host-namespaces",
        lambda s: find(s, "db")["inputs"]["spec"]["template"]["spec"].update(hostIPC=True),
        "hostIPC: true",
    ),
    Case(
        "host-process",
        "pod-no-host-namespaces",
        lambda s: _sc(s).update(windowsOptions={"hostProcess": True}),
        "windowsOptions.hostProcess",
    ),
    Case(
        "requests-init",
        "pod-resource-requests-and-limits",
        extra_container("initContainers", resources={"requests": None}),
        "init container 'extra-initContainers' has no cpu and memory requests",
    ),
    Case(
        "sidecar-probes",
        "pod-health-probes",
        extra_container("initContainers", restartPolicy="Always", livenessProbe=None),
        "init container 'extra-initContainers' has no livenessProbe",
    ),
    Case(
        "read-only-root",
        "pod-read-only-root-filesystem",
        lambda s: _sc(s).update(readOnlyRootFilesystem=False),
        "container 'app' does not set readOnlyRootFilesystem: true",
    ),
    Case(
        "read-only-root-ephemeral",
        "pod-read-only-root-filesystem",
        extra_container("ephemeralContainers", securityContext={"readOnlyRootFilesystem": None}),
        "ephemeral container 'extra-ephemeralContainers' does not set readOnlyRootFilesystem",
    ),
    Case(
        "read-only-root-docker",
        "pod-read-only-root-filesystem",
        _set(box, "readOnly", False),
        "does not set readOnly: true",
    ),
    # network exposure
    Case(
        "service-external-ips",
        "service-external-exposure-allowed",
        lambda s: find(s, "web-svc")["inputs"]["spec"].update(externalIPs=["203.0.113.7"]),
        "sets externalIPs 203.0.113.7",
    ),
    Case(
        "service-lb-public-range",
        "service-external-exposure-allowed",
        lambda s: find(s, "web-svc")["inputs"]["spec"].update(
            type="LoadBalancer", loadBalancerSourceRanges=["10.40.12.0/24", "203.0.113.0/24"]
        ),
        "type LoadBalancer admitting 203.0.113.0/24",
    ),
    Case(
        "service-node-port",
        "service-external-exposure-allowed",
        lambda s: find(s, "web-svc")["inputs"]["spec"].update(type="NodePort"),
        "type NodePort",
    ),
    Case(
        "host-port",
        "pod-no-host-ports",
        lambda s: web(s).update(ports=[{"containerPort": 8080, "hostPort": 8080}]),
        "binds hostPort 8080",
    ),
    Case(
        "host-port-init",
        "pod-no-host-ports",
        extra_container("initContainers", ports=[{"containerPort": 22, "hostPort": 2222}]),
        "container 'extra-initContainers' of 'web' binds hostPort 2222",
    ),
    Case(
        "netpol-ingress-no-from",
        "network-policy-no-open-peers",
        network_policy(
            "open-in",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"ports": [{"port": 8080}]}],
            },
        ),
        "ingress rule 1 has no 'from'",
    ),
    Case(
        "netpol-ingress-any-namespace",
        "network-policy-no-open-peers",
        network_policy(
            "ns-in",
            {
                "podSelector": {},
                "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {}}]}],
            },
        ),
        "namespaceSelector {}",
    ),
    Case(
        "netpol-ingress-world",
        "network-policy-no-open-peers",
        network_policy(
            "world-in",
            {
                "podSelector": {},
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]}
                ],
            },
        ),
        "ipBlock 0.0.0.0/0",
    ),
    Case(
        "netpol-egress-no-to",
        "network-policy-no-open-peers",
        network_policy("open-out", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}),
        "egress rule 1 has no 'to'",
    ),
    Case(
        "netpol-egress-world-v6",
        "network-policy-no-open-peers",
        network_policy(
            "world-out", {"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "::/0"}}]}]}
        ),
        "ipBlock ::/0",
    ),
    Case(
        "netpol-empty-peer",
        "network-policy-no-open-peers",
        network_policy("empty-peer", {"podSelector": {}, "ingress": [{"from": [{}]}]}),
        "an empty peer",
    ),
    # credentials in every form
    Case(
        "env-private-key-init",
        "no-plaintext-credentials-in-env",
        extra_container("initContainers", env=[{"name": "TLS", "value": PEM}]),
        "carries a private key",
    ),
    Case(
        "env-aws-key-id",
        "no-plaintext-credentials-in-env",
        lambda s: web(s)["env"].append({"name": "AWS_ID", "value": "AKIAIOSFODNN7EXAMPLE"}),
        "carries an AWS access key id",
    ),
    Case(
        "env-jdbc-password-docker",
        "no-plaintext-credentials-in-env",
        lambda s: box(s)["envs"].append("JDBC=jdbc:sqlserver://db:1433;user=sa;password=Hunter2x"),
        "carries a connection string with a password",
    ),
    Case(
        "config-binary-private-key",
        "no-plaintext-credentials-in-config-files",
        lambda s: find(s, "files")["inputs"].update(
            binaryData={"tls.bin": base64.b64encode(PEM.encode()).decode()}
        ),
        "tls.bin: holds a private key",
    ),
    Case(
        "config-entry-named-password",
        "no-plaintext-credentials-in-config-files",
        lambda s: files(s).update({"DB_PASSWORD": "hunter2"}),
        "DB_PASSWORD: the entry holds a credential",
    ),
    Case(
        "config-aws-secret",
        "no-plaintext-credentials-in-config-files",
        lambda s: files(s).update(
            {
                "run.sh": "aws configure --aws-secret-access-key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
            }
        ),
        "carries an AWS secret access key",
    ),
    Case(
        "config-libpq-password",
        "no-plaintext-credentials-in-config-files",
        lambda s: files(s).update(
            {"conninfo.txt": "host=db dbname=app user=app password=hunter2\n"}
        ),
        "carries a connection string with a password",
    ),
    Case(
        "secret-key-ref-env",
        "secrets-as-files-not-env",
        lambda s: web(s)["env"].append(
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
        ),
        "reads Secret values from env: DB_PASSWORD",
    ),
    Case(
        "secret-env-from",
        "secrets-as-files-not-env",
        extra_container("initContainers", envFrom=[{"secretRef": {"name": "creds"}}]),
        "imports whole Secrets into env: creds",
    ),
    Case(
        "secret-literal-env",
        "secrets-as-files-not-env",
        lambda s: web(s)["env"].append({"name": "API_TOKEN", "value": "[secret]"}),
        "Pulumi secrets as literal env values",
    ),
    Case(
        "secret-env-docker",
        "secrets-as-files-not-env",
        lambda s: box(s)["envs"].append("[secret]"),
        "receives 1 secret(s) through env",
    ),
    # TLS for every endpoint that carries credentials
    Case(
        "minio-without-certs",
        "minio-server-tls",
        minio_server,
        "runs `minio server` without public.crt and private.key",
    ),
    Case(
        "minio-certs-dir-empty",
        "minio-server-tls",
        lambda s: [
            minio_server(s),
            db_pod(s)["containers"][0]["args"].extend(["--certs-dir", "/tmp"]),
        ],
        "certs directory /tmp",
    ),
    Case(
        "minio-docker-without-certs",
        "minio-server-tls",
        _set(box, "command", ["minio", "server", "/data"]),
        "container 'box' runs `minio server`",
    ),
    Case(
        "minio-provider-plain",
        "provider-connections-use-tls",
        provider("minio-provider", minioSsl="false"),
        "connects without TLS",
    ),
    Case(
        "minio-provider-ssl-unset",
        "provider-connections-use-tls",
        provider("minio-provider", minioSsl=None),
        "connects without TLS",
    ),
    Case(
        "minio-provider-insecure",
        "provider-connections-use-tls",
        provider("minio-provider", minioInsecure="true"),
        "does not verify the server certificate",
        config={"provider-connections-use-tls": {"requireVerifiedTls": True}},
    ),
    Case(
        "postgres-provider-prefer",
        "provider-connections-use-tls",
        provider("pg-provider", sslmode="prefer"),
        "sslmode 'prefer'",
    ),
    Case(
        "postgres-provider-sslmode-unset",
        "provider-connections-use-tls",
        provider("pg-provider", sslmode=None),
        "sslmode 'unset'",
    ),
    Case(
        "http-endpoint-with-keys",
        "credentials-not-sent-over-http",
        lambda s: files(s).update(
            {
                "etc-trino-catalog-lake.properties": "s3.endpoint=http://minio:9000\ns3.aws-secret-key=${ENV:S3_SECRET}\n"
            }
        ),
        "s3.endpoint=http://minio:9000 (credentials of 's3' sent over http)",
    ),
    Case(
        "http-userinfo-env",
        "credentials-not-sent-over-http",
        lambda s: web(s)["env"].append(
            {"name": "MC_HOST_x", "value": "http://admin:$(MINIO_PW)@minio:9000"}
        ),
        "env MC_HOST_x of container 'app' sends a user and password to an http:// URL",
    ),
    # object storage policies
    Case(
        "iam-wildcard-action",
        "storage-policy-no-wildcards",
        iam_policy({"Action": "s3:*", "Resource": ["arn:aws:s3:::dp-prod-data/*"]}),
        "allows every action (s3:*)",
    ),
    Case(
        "iam-not-action",
        "storage-policy-no-wildcards",
        iam_policy({"NotAction": ["s3:DeleteBucket"], "Resource": ["arn:aws:s3:::dp-prod-data"]}),
        "NotAction",
    ),
    Case(
        "iam-wildcard-resource",
        "storage-policy-no-wildcards",
        iam_policy({"Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::*"}),
        "applies to every bucket (arn:aws:s3:::*)",
    ),
    Case(
        "iam-bucket-name-wildcard",
        "storage-policy-no-wildcards",
        iam_policy({"Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::dp-prod-*/*"]}),
        "applies to every bucket (arn:aws:s3:::dp-prod-*/*)",
    ),
    Case(
        "iam-not-resource",
        "storage-policy-no-wildcards",
        iam_policy({"Action": ["s3:GetObject"], "NotResource": ["arn:aws:s3:::dp-prod-audit/*"]}),
        "NotResource",
    ),
    Case(
        "bucket-policy-star",
        "storage-policy-no-wildcards",
        lambda s: find(s, "data-policy")["inputs"].update(
            policy=json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": ["arn:aws:iam::minio:user/trino"]},
                            "Action": "*",
                            "Resource": "*",
                        }
                    ]
                }
            )
        ),
        "allows every action (*)",
    ),
    Case(
        "bucket-force-destroy",
        "bucket-no-force-destroy",
        lambda s: find(s, "dp-prod-data")["inputs"].update(forceDestroy=True),
        "bucket 'dp-prod-data' sets forceDestroy",
    ),
    Case(
        "audit-not-locked",
        "audit-bucket-object-lock",
        lambda s: find(s, "dp-prod-audit")["inputs"].update(objectLocking=False),
        "has no object locking",
    ),
    Case(
        "audit-no-default-retention",
        "audit-bucket-object-lock",
        remove("dp-prod-audit-retention"),
        "locked but has no default retention",
        config={"audit-bucket-object-lock": {"requireDefaultRetention": True}},
    ),
    Case(
        "audit-retention-zero",
        "audit-bucket-object-lock",
        retention(unit="DAYS", validityPeriod=0),
        "retains objects for 0 days",
    ),
    Case(
        "audit-retention-governance",
        "audit-bucket-object-lock",
        retention(mode="GOVERNANCE"),
        "retention mode is 'GOVERNANCE', not COMPLIANCE",
    ),
    # disruption budgets (field failure 6)
    Case(
        "pdb-max-unavailable-0",
        "disruption-budget-allows-eviction",
        set_pdb(maxUnavailable=0),
        "maxUnavailable 0",
    ),
    Case(
        "pdb-max-unavailable-0-percent",
        "disruption-budget-allows-eviction",
        set_pdb(maxUnavailable="0%"),
        "allows no voluntary eviction",
    ),
    Case(
        "pdb-min-available-100-percent",
        "disruption-budget-allows-eviction",
        set_pdb(minAvailable="100%"),
        "minAvailable '100%'",
    ),
    Case(
        "pdb-min-available-all-replicas",
        "disruption-budget-allows-eviction",
        set_pdb(minAvailable=3),
        "of its 3 pod(s) (web, db)",
    ),
    Case(
        "pdb-min-available-single-replica",
        "disruption-budget-allows-eviction",
        pdb("db-pdb", {"minAvailable": 1, "selector": DB_ONLY}),
        "PodDisruptionBudget dp-prod/db-pdb (minAvailable 1) allows no voluntary eviction of its 1 pod(s) (db)",
    ),
    Case(
        "no-pdb-replicated-where-one-replica-suffices",
        "stateless-replicas-with-disruption-budget",
        remove("web-pdb"),
        "Deployment 'web' has no PodDisruptionBudget",
        config={"stateless-replicas-with-disruption-budget": {"minReplicas": 1}},
    ),
    # isolation
    Case(
        "foreign-namespace",
        "stack-isolation",
        lambda s: find(s, "web-svc")["inputs"]["metadata"].update(namespace="dp-test"),
        "namespace 'dp-test'",
        also=frozenset({"namespace-default-deny-network-policy"}),
    ),
    Case(
        "foreign-label",
        "stack-isolation",
        lambda s: labels_of(s, "claim").update({"dataplatform.io/environment": "dev"}),
        "labelled dataplatform.io/environment=dev",
    ),
    Case(
        "foreign-bucket",
        "stack-isolation",
        lambda s: s.append(
            resource(
                "minio:index/iamPolicy:IamPolicy",
                "leak",
                {
                    "name": "leak",
                    "policy": json.dumps(
                        {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": ["s3:GetObject"],
                                    "Resource": ["arn:aws:s3:::dp-test-data/*"],
                                }
                            ]
                        }
                    ),
                },
            )
        ),
        "bucket 'dp-test-data'",
    ),
    Case(
        "foreign-database",
        "stack-isolation",
        lambda s: find(s, "grant")["inputs"].update(database="dp_dev_app"),
        "database 'dp_dev_app'",
    ),
    # kafka
    Case(
        "kafka-controller-default-replication",
        "kafka-broker-durability",
        kafka_setting(CONTROLLER, "default.replication.factor", "1"),
        "default.replication.factor 1 < 3",
    ),
    Case(
        "kafka-controller-default-replication-unset",
        "kafka-broker-durability",
        kafka_setting(CONTROLLER, "default.replication.factor", None),
        "default.replication.factor unset (Kafka's default 1) < 3",
    ),
    Case(
        "kafka-broker-default-replication-low",
        "kafka-broker-durability",
        kafka_setting(BROKER, "default.replication.factor", "2"),
        "default.replication.factor 2 < 3",
    ),
    Case(
        "kafka-broker-min-isr",
        "kafka-broker-durability",
        kafka_setting(BROKER, "min.insync.replicas", "1"),
        "min.insync.replicas 1 < 2",
    ),
    Case(
        "kafka-broker-min-isr-unset",
        "kafka-broker-durability",
        kafka_setting(BROKER, "min.insync.replicas", None),
        "min.insync.replicas unset (Kafka's default 1) < 2",
    ),
    Case(
        "kafka-broker-unclean",
        "kafka-broker-durability",
        kafka_setting(CONTROLLER, "unclean.leader.election.enable", "TRUE"),
        "unclean.leader.election.enable=true",
    ),
    Case(
        "kafka-broker-offsets-replication",
        "kafka-broker-durability",
        kafka_setting(BROKER, "offsets.topic.replication.factor", "1"),
        "offsets.topic.replication.factor 1 < 3",
    ),
    Case(
        "kafka-broker-transactions-replication",
        "kafka-broker-durability",
        kafka_setting(BROKER, "transaction.state.log.replication.factor", "2"),
        "transaction.state.log.replication.factor 2 < 3",
    ),
    Case(
        "kafka-broker-share-state-replication",
        "kafka-broker-durability",
        kafka_setting(BROKER, "share.coordinator.state.topic.replication.factor", "1"),
        "share.coordinator.state.topic.replication.factor 1 < 3",
    ),
    Case(
        "kafka-broker-transactions-min-isr",
        "kafka-broker-durability",
        kafka_setting(BROKER, "transaction.state.log.min.isr", "1"),
        "transaction.state.log.min.isr 1 < 2",
    ),
    Case(
        "kafka-broker-env",
        "kafka-broker-durability",
        kafka_env(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_DEFAULT_REPLICATION_FACTOR="3",
            KAFKA_MIN_INSYNC_REPLICAS="1",
            KAFKA_AUTHORIZER_CLASS_NAME="org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
        ),
        "container 'app' (KAFKA_* env) of 'web': min.insync.replicas 1 < 2",
    ),
    Case(
        "kafka-topic-replication",
        "kafka-topic-durability",
        topic_input("replicationFactor", 1),
        "replicationFactor 1 < 3",
    ),
    Case(
        "kafka-topic-min-isr",
        "kafka-topic-durability",
        topic_input("config.min.insync.replicas", "1"),
        "min.insync.replicas 1 < 2",
    ),
    Case(
        "kafka-topic-min-isr-unset-brokers-unknown",
        "kafka-topic-durability",
        lambda s: (
            topic_input("config.min.insync.replicas", None)(s),
            find(s, "kafka-files")["inputs"]["data"].pop(BROKER),
        ),
        "min.insync.replicas unset while the brokers' default is not known",
    ),
    Case(
        "kafka-topic-unclean",
        "kafka-topic-durability",
        topic_input("config.unclean.leader.election.enable", "true"),
        "unclean.leader.election.enable=true",
    ),
    Case(
        "kafka-listener-sasl-plaintext",
        "kafka-no-plaintext-listeners",
        kafka_setting(
            BROKER,
            "listener.security.protocol.map",
            "CLIENT:SASL_PLAINTEXT,INTERNAL:SSL,CONTROLLER:SSL",
        ),
        "listener CLIENT (listeners) speaks SASL_PLAINTEXT",
    ),
    Case(
        "kafka-listener-default-map",
        "kafka-no-plaintext-listeners",
        lambda s: (
            kafka_setting(BROKER, "listener.security.protocol.map", None)(s),
            kafka_setting(BROKER, "listeners", "PLAINTEXT://0.0.0.0:9092,SSL://0.0.0.0:9094")(s),
            kafka_setting(BROKER, "advertised.listeners", "SSL://kafka-broker-0:9094")(s),
            kafka_setting(BROKER, "inter.broker.listener.name", "SSL")(s),
            kafka_setting(BROKER, "ssl.client.auth", "required")(s),
            kafka_setting(BROKER, "controller.listener.names", "SSL")(s),
        ),
        "listener PLAINTEXT (listeners) speaks PLAINTEXT",
        also=frozenset({"kafka-listeners-authenticated"}),
    ),
    Case(
        "kafka-listener-to-controllers",
        "kafka-no-plaintext-listeners",
        kafka_setting(
            BROKER,
            "listener.security.protocol.map",
            "CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:PLAINTEXT",
        ),
        "listener CONTROLLER (controller.listener.names) speaks PLAINTEXT",
    ),
    Case(
        "kafka-client-plaintext",
        "kafka-no-plaintext-listeners",
        kafka_setting(CLIENT, "security.protocol", "PLAINTEXT"),
        "security.protocol is PLAINTEXT",
    ),
    Case(
        "kafka-client-default-protocol",
        "kafka-no-plaintext-listeners",
        kafka_setting(CLIENT, "security.protocol", None),
        "security.protocol (unset: the default) is PLAINTEXT",
    ),
    Case(
        "kafka-trino-catalog-plaintext",
        "kafka-no-plaintext-listeners",
        lambda s: files(s).update(
            {
                "etc-trino-catalog-stream.properties": "connector.name=kafka\nkafka.nodes=kafka:9092\n"
            }
        ),
        "kafka.security-protocol (unset: the default) is PLAINTEXT",
    ),
    Case(
        "kafka-client-env",
        "kafka-no-plaintext-listeners",
        kafka_env(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT"),
        "sets KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
    ),
    Case(
        "kafka-ssl-without-client-auth",
        "kafka-listeners-authenticated",
        kafka_setting(BROKER, "listener.name.internal.ssl.client.auth", "requested"),
        "listener INTERNAL accepts anonymous peers (SSL without ssl.client.auth=required)",
    ),
    Case(
        "kafka-no-authorizer",
        "kafka-authorizer-deny-by-default",
        kafka_setting(BROKER, "authorizer.class.name", None),
        "no authorizer.class.name",
    ),
    Case(
        "kafka-allow-everyone",
        "kafka-authorizer-deny-by-default",
        kafka_setting(CONTROLLER, "allow.everyone.if.no.acl.found", "true"),
        "allow.everyone.if.no.acl.found=true",
    ),
    Case(
        "kafka-anonymous-super-user",
        "kafka-authorizer-deny-by-default",
        kafka_setting(BROKER, "super.users", "User:admin;User:ANONYMOUS"),
        "super.users names User:ANONYMOUS",
    ),
    Case(
        "kafka-acl-every-user",
        "kafka-acls-least-privilege",
        lambda s: find(s, "reader-acl")["inputs"].update(aclPrincipal="User:*"),
        "allows principal User:* (every user)",
    ),
    Case(
        "kafka-acl-all-operations",
        "kafka-acls-least-privilege",
        lambda s: find(s, "reader-acl")["inputs"].update(aclOperation="All"),
        "allows operation All",
    ),
    Case(
        "kafka-acl-every-topic",
        "kafka-acls-least-privilege",
        lambda s: find(s, "reader-acl")["inputs"].update(aclResourceName="*"),
        "allows every Topic (literal '*')",
    ),
    Case(
        "kafka-acl-every-prefix",
        "kafka-acls-least-privilege",
        lambda s: find(s, "reader-acl")["inputs"].update(
            aclResourceName="", resourcePatternTypeFilter="Prefixed"
        ),
        "allows every Topic (prefixed '')",
    ),
    Case(
        "kafka-acl-cluster-create",
        "kafka-acls-least-privilege",
        lambda s: find(s, "reader-acl")["inputs"].update(
            aclResourceType="Cluster", aclResourceName="kafka-cluster", aclOperation="Create"
        ),
        "allows cluster-wide Create",
    ),
    Case(
        "kafka-auto-create",
        "kafka-no-auto-topic-creation",
        kafka_setting(BROKER, "auto.create.topics.enable", None),
        "lets clients create topics by naming them",
    ),
    Case(
        "kafka-topic-no-parent",
        "kafka-topic-classification-owner",
        lambda s: (
            find(s, "sales.orders").update(parent=None),
            s.remove(find(s, "topic-sales.orders")),
        ),
        "has no parent resource carrying its data classification and owner",
    ),
    Case(
        "kafka-topic-no-classification",
        "kafka-topic-classification-owner",
        topic_fact("classification", None),
        "no classification",
    ),
    Case(
        "kafka-topic-bad-classification",
        "kafka-topic-classification-owner",
        topic_fact("classification", "top-secret"),
        "classification 'top-secret' (allowed: public, internal, confidential, restricted)",
    ),
    Case(
        "kafka-topic-no-owner",
        "kafka-topic-classification-owner",
        topic_fact("owner", " "),
        "no owner",
    ),
    Case(
        "kafka-topic-other-parent",
        "kafka-topic-classification-owner",
        topic_fact("topic", "crm.customers"),
        "its parent describes topic 'crm.customers', not 'sales.orders'",
    ),
    Case(
        "kafka-provider-no-tls",
        "provider-connections-use-tls",
        provider("kafka-provider", tlsEnabled="false"),
        "Kafka provider 'kafka-provider' sets tlsEnabled false",
    ),
    Case(
        "kafka-provider-skip-verify",
        "provider-connections-use-tls",
        provider("kafka-provider", skipTlsVerify="true"),
        "sets skipTlsVerify",
        config={"provider-connections-use-tls": {"requireVerifiedTls": True}},
    ),
    # rbac
    Case(
        "rbac-wildcard-verbs",
        "rbac-no-wildcards",
        role_rule({"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["*"]}),
        "uses wildcards (verbs '*')",
    ),
    Case(
        "rbac-wildcard-resources",
        "rbac-no-wildcards",
        role_rule({"apiGroups": ["apps"], "resources": ["deployments/*"], "verbs": ["get"]}),
        "resources 'deployments/*'",
    ),
    Case(
        "rbac-wildcard-groups",
        "rbac-no-wildcards",
        role_rule({"apiGroups": ["*"], "resources": ["configmaps"], "verbs": ["get"]}),
        "apiGroups '*'",
    ),
    Case(
        "rbac-wildcard-urls",
        "rbac-no-wildcards",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
            "metrics-reader",
            {
                "metadata": {"name": "metrics-reader"},
                "rules": [{"nonResourceURLs": ["*"], "verbs": ["get"]}],
            },
        ),
        "nonResourceURLs '*'",
    ),
    Case(
        "rbac-secrets",
        "rbac-no-secrets-access",
        role_rule({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}),
        "reaches Secrets",
    ),
    Case(
        "rbac-escalation-verbs",
        "rbac-no-escalation-verbs",
        role_rule(
            {
                "apiGroups": ["rbac.authorization.k8s.io"],
                "resources": ["roles"],
                "verbs": ["bind", "escalate"],
            }
        ),
        "grants bind, escalate",
    ),
    Case(
        "rbac-impersonate",
        "rbac-no-escalation-verbs",
        add(
            "kubernetes:rbac.authorization.k8s.io/v1:RolePatch",
            "impersonator",
            {
                "metadata": {"name": "impersonator", "namespace": "dp-prod"},
                "rules": [{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
            },
        ),
        "grants impersonate",
    ),
    Case(
        "rbac-token-minting",
        "rbac-no-escalation-verbs",
        role_rule({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}),
        "mints service account tokens",
    ),
    Case(
        "rbac-pod-exec",
        "rbac-no-pod-exec",
        role_rule(
            {
                "apiGroups": [""],
                "resources": ["pods/exec", "pods/attach"],
                "verbs": ["create", "get"],
            }
        ),
        "grants pods/attach, pods/exec",
    ),
    Case(
        "rbac-cluster-binding-service-account",
        "rbac-service-accounts-namespaced",
        binding_subject(
            {"kind": "ServiceAccount", "name": "launcher", "namespace": "dp-prod"},
            "ClusterRoleBinding",
        ),
        "binds ServiceAccount dp-prod/launcher cluster-wide",
    ),
    Case(
        "rbac-cluster-binding-service-account-group",
        "rbac-service-accounts-namespaced",
        binding_subject(
            {"kind": "Group", "name": "system:serviceaccounts:dp-prod"}, "ClusterRoleBinding"
        ),
        "binds Group system:serviceaccounts:dp-prod cluster-wide",
    ),
    Case(
        "rbac-binding-everyone",
        "rbac-no-bindings-to-everyone",
        binding_subject({"kind": "Group", "name": "system:authenticated"}),
        "binds Group system:authenticated",
    ),
    Case(
        "api-token-default-account",
        "pod-api-token-only-with-role",
        lambda s: web_pod(s).pop("automountServiceAccountToken"),
        "Deployment 'web' mounts an API token of ServiceAccount dp-prod/default",
    ),
    Case(
        "api-token-declared-account",
        "pod-api-token-only-with-role",
        lambda s: (
            web_pod(s).pop("automountServiceAccountToken"),
            web_pod(s).update(serviceAccountName="launcher"),
            s.remove(find(s, "launcher-binding")),
        ),
        "mounts an API token of ServiceAccount dp-prod/launcher, which no binding",
    ),
    Case(
        "dagster-launcher-excess",
        "dagster-run-launcher-least-privilege",
        lambda s: (
            dagster_daemon(s),
            role_rule(
                {"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["get", "patch"]}
            )(s),
        ),
        "grants more than launching runs needs: configmaps:get, configmaps:patch, pods:patch",
    ),
    # container engine socket
    Case(
        "engine-socket-writable",
        "engine-socket-restricted",
        socket_box(read_only=False),
        "mounts the engine socket writable (/var/run/docker.sock)",
        also=SOCKET_ALSO,
    ),
    Case(
        "engine-socket-published",
        "engine-socket-restricted",
        socket_box(ports=True),
        "holds the engine socket and publishes 1 port(s)",
        also=SOCKET_ALSO,
    ),
    Case(
        "engine-socket-networks",
        "engine-socket-restricted",
        socket_box(networks=2),
        "joins net-0, net-1",
        also=SOCKET_ALSO,
    ),
    Case(
        "engine-socket-default-bridge",
        "engine-socket-restricted",
        socket_box(networks=0),
        "joins bridge",
        also=SOCKET_ALSO,
    ),
    Case(
        "engine-socket-pod",
        "engine-socket-restricted",
        lambda s: web_pod(s)["volumes"].append(
            {"name": "engine", "hostPath": {"path": "/run/containerd/containerd.sock"}}
        ),
        "mounts the node's container engine socket (/run/containerd/containerd.sock)",
        also=SOCKET_ALSO,
    ),
    # budget
    Case(
        "budget-cpu",
        "stack-resource-budget",
        lambda s: None,
        "CPU over the budget",
        config={"stack-resource-budget": {"maxCpu": 1}},
    ),
    Case(
        "budget-memory",
        "stack-resource-budget",
        lambda s: None,
        "memory over the budget",
        config={"stack-resource-budget": {"maxMemory": "1Gi"}},
    ),
    Case(
        "budget-storage",
        "stack-resource-budget",
        lambda s: None,
        "storage over the budget",
        config={"stack-resource-budget": {"maxStorage": "10Gi"}},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_violation_path(evaluate, case: Case) -> None:
    stack = copy.deepcopy(baseline())
    case.mutate(stack)
    result = evaluate(stack, document=prod_config(**case.config))
    fired = {v.policy for v in result.violations}
    assert case.policy in fired, result.format()
    assert fired - {case.policy} <= case.also, f"overlapping policies: {result.format()}"
    messages = [v.message for v in result.violations if v.policy == case.policy]
    assert any(case.fragment in m for m in messages), messages
    assert all(v.enforcement == "mandatory" for v in result.violations)


def test_every_policy_has_a_violation_case(analyzer) -> None:
    """Every policy has a case here, or (rules other modules own) in another policy test file."""
    names = {p.name for p in analyzer.info().policies}
    covered = {c.policy for c in CASES}
    assert covered <= names
    others = "".join(
        path.read_text()
        for path in Path(__file__).parent.glob("test_*.py")
        if path.name != Path(__file__).name
    )
    assert [n for n in sorted(names - covered) if f'"{n}"' not in others] == []


def test_budget_message_has_totals(evaluate) -> None:
    result = evaluate(baseline(), document=prod_config(stack_resource_budget={"maxCpu": 1}))
    (violation,) = [v for v in result.violations if v.policy == "stack-resource-budget"]
    # 2 web pods + 1 db pod at 500m, plus 1 Docker cpu; 3x1Gi + 512Mi; 10+5+5 Gi.
    assert "cpu 2.5 cores, memory 3.50Gi, storage 20.00Gi" in violation.message


def test_broad_rule_after_a_masking_rule_for_the_same_group_exposes_nothing(evaluate) -> None:
    """First match wins: analysts hit their masked lake rule before a later catch-all grant."""
    stack = copy.deepcopy(baseline())
    edit_rules(
        lambda r: r["tables"].insert(
            2, {"group": "analysts", "catalog": ".*", "privileges": ["SELECT"]}
        )
    )(stack)
    result = evaluate(stack)
    assert [v for v in result.violations if v.policy == "trino-pii-columns-masked"] == []


def test_broad_rule_reaching_a_pii_table_for_another_group_is_reported(evaluate) -> None:
    stack = copy.deepcopy(baseline())
    edit_rules(
        lambda r: r["tables"].insert(
            2, {"group": "analysts|bi", "catalog": "lake|warehouse", "privileges": ["SELECT"]}
        )
    )(stack)
    result = evaluate(stack)
    [violation] = [v for v in result.violations if v.policy == "trino-pii-columns-masked"]
    assert "to bi without masking PII columns email, ssn" in violation.message


def test_one_shot_docker_container_needs_no_healthcheck(evaluate) -> None:
    """Like a Job: a container that runs once to completion is exempt from the probe rule."""
    stack = copy.deepcopy(baseline())
    box(stack).update(healthcheck=None, mustRun=False, restart="no")
    assert [v for v in evaluate(stack).violations if v.policy == "pod-health-probes"] == []
    box(stack).update(restart="unless-stopped")
    assert [v.policy for v in evaluate(stack).violations] == ["pod-health-probes"]


def test_only_writable_docker_mounts_make_a_container_a_data_store(evaluate) -> None:
    """A read-only mount delivers config; a writable one stores data and needs a classification."""
    stack = copy.deepcopy(baseline())
    container = box(stack)
    container["labels"] = [
        item
        for item in container["labels"]
        if item["label"] != "dataplatform.io/data-classification"
    ]
    container["mounts"] = [
        {"type": "volume", "source": "box-config", "target": "/etc/box", "readOnly": True}
    ]
    assert [
        v for v in evaluate(stack).violations if v.policy == "data-store-classification-label"
    ] == []
    container["mounts"][0]["readOnly"] = False
    fired = [v for v in evaluate(stack).violations if v.policy == "data-store-classification-label"]
    assert [v.message for v in fired] == [
        "'box' stores data but has no dataplatform.io/data-classification label "
        "(one of public, internal, confidential, restricted)."
    ]
