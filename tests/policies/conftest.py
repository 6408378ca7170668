"""Policy test fixtures: one analyzer subprocess per session, and a compliant baseline stack."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.check import POLICY_CONFIG_DIR, CheckResult, PolicyAnalyzer, check_render

PROJECT = "data-platform"
Resource = dict[str, Any]


@pytest.fixture(scope="session")
def analyzer() -> Iterator[PolicyAnalyzer]:
    """The policy pack served over gRPC, shared by every policy test."""
    with PolicyAnalyzer() as running:
        running.start(project=PROJECT, stack="prod")
        yield running


def urn(stack: str, type_token: str, name: str) -> str:
    """A URN of a top-level resource of `stack`."""
    return f"urn:pulumi:{stack}::{PROJECT}::{type_token}::{name}"


def resource(
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    *,
    protect: bool = False,
    stack: str = "prod",
) -> Resource:
    """A render resource as `dataplatform render` writes it."""
    return {
        "urn": urn(stack, type_token, name),
        "type": type_token,
        "name": name,
        "custom": True,
        "parent": None,
        "provider": None,
        "inputs": inputs,
        "options": {
            "protect": protect,
            "retain_on_delete": False,
            "delete_before_replace": False,
            "ignore_changes": [],
            "depends_on": [],
        },
        "dependencies": [],
        "property_dependencies": {},
    }


LABELS = {
    "app.kubernetes.io/name": "web",
    "app.kubernetes.io/part-of": "data-platform",
    "dataplatform.io/environment": "prod",
    "dataplatform.io/owner": "data-platform-team",
    "dataplatform.io/cost-center": "cc-4410",
}
DATA_LABELS = LABELS | {"dataplatform.io/data-classification": "restricted"}
SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
PROBE = {"httpGet": {"path": "/health", "port": 8080}}
RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}

POSTGRESQL_CONF = """\
# postgresql.conf
shared_preload_libraries = 'pgaudit'
pgaudit.log = 'ddl, role, write'
log_connections = on
log_disconnections = on
ssl = on
password_encryption = 'scram-sha-256'
"""
ACCESS_CONTROL = """\
access-control.name=file
security.config-file=/etc/trino/rules.json
security.refresh-period=1m
"""
RULES = {
    "catalogs": [{"group": "analysts", "catalog": "lake", "allow": "read-only"}, {"allow": "none"}],
    "tables": [
        {"group": "stewards", "privileges": ["SELECT"]},
        {
            "group": "analysts",
            "catalog": "lake",
            "privileges": ["SELECT"],
            "columns": [{"name": "email", "mask": "'***'"}, {"name": "ssn", "allow": False}],
        },
        {"privileges": []},
    ],
    "schemas": [{"group": "admin", "owner": True}, {"owner": False}],
}
CATALOG = "connector.name=hive\nhive.metastore.password=${ENV:METASTORE_PASSWORD}\n"
KAFKA_SECURITY = """\
listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL
controller.listener.names=CONTROLLER
controller.quorum.voters=1000@kafka-controller-0:9093
listener.name.internal.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:kafka-node
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
"""
KAFKA_BROKER = f"""\
node.id=0
process.roles=broker
listeners=CLIENT://0.0.0.0:9092,INTERNAL://0.0.0.0:9094
advertised.listeners=CLIENT://kafka-broker-0:9092,INTERNAL://kafka-broker-0:9094
inter.broker.listener.name=INTERNAL
auto.create.topics.enable=false
{KAFKA_SECURITY}"""
KAFKA_CONTROLLER = f"""\
node.id=1000
process.roles=controller
listeners=CONTROLLER://0.0.0.0:9093
default.replication.factor=3
{KAFKA_SECURITY}"""
KAFKA_CLIENT = (
    "bootstrap.servers=kafka:9092\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
)
KAFKA_FILES = {
    "etc-kafka-broker-server.properties": KAFKA_BROKER,
    "etc-kafka-controller-server.properties": KAFKA_CONTROLLER,
    "etc-kafka-client.properties": KAFKA_CLIENT,
}
RUN_LAUNCHER_RULES = [
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete", "list"]},
    {"apiGroups": ["batch"], "resources": ["jobs/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete", "get", "list"]},
    {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
]
TOPIC_COMPONENT = "dataplatform:streaming:KafkaTopic"


def container(name: str = "app", image: str = "docker.io/trinodb/trino:470") -> dict[str, Any]:
    """A restricted-compliant Kubernetes container."""
    return {
        "name": name,
        "image": image,
        "env": [
            {"name": "LOG_LEVEL", "value": "info"},
            {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db/password"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "CERT_KEY_FILE", "value": "/etc/tls/tls.key"},
            {"name": "S3_ENDPOINT", "value": "https://minio:9000"},
        ],
        "securityContext": copy.deepcopy(SECURITY),
        "resources": copy.deepcopy(RESOURCES),
        "readinessProbe": PROBE,
        "livenessProbe": PROBE,
    }


def pod_template(labels: dict[str, str]) -> dict[str, Any]:
    """A compliant pod template."""
    return {
        "metadata": {"labels": dict(labels)},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "automountServiceAccountToken": False,
            "containers": [container()],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def docker_labels(labels: dict[str, str]) -> list[dict[str, str]]:
    """Labels in the Docker provider's list form."""
    return [{"label": k, "value": v} for k, v in labels.items()]


def baseline() -> list[Resource]:
    """A stack of compliant resources covering every governed type."""
    selector = {"matchLabels": {"app.kubernetes.io/name": "web"}}
    k = "kubernetes:"
    return [
        resource(
            f"{k}core/v1:Namespace",
            "ns",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "dp-prod", "labels": LABELS},
            },
        ),
        resource(
            f"{k}networking.k8s.io/v1:NetworkPolicy",
            "deny",
            {
                "metadata": {"name": "default-deny-all", "namespace": "dp-prod", "labels": LABELS},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            },
        ),
        resource(
            f"{k}apps/v1:Deployment",
            "web",
            {
                "metadata": {"name": "web", "namespace": "dp-prod", "labels": LABELS},
                "spec": {"replicas": 2, "selector": selector, "template": pod_template(LABELS)},
            },
        ),
        resource(
            f"{k}policy/v1:PodDisruptionBudget",
            "web-pdb",
            {
                "metadata": {"name": "web", "namespace": "dp-prod", "labels": LABELS},
                "spec": {"maxUnavailable": 1, "selector": selector},
            },
        ),
        resource(
            f"{k}core/v1:Service",
            "web-svc",
            {
                "metadata": {"name": "web", "namespace": "dp-prod", "labels": LABELS},
                "spec": {"type": "ClusterIP", "selector": selector["matchLabels"]},
            },
        ),
        resource(
            f"{k}apps/v1:StatefulSet",
            "db",
            {
                "metadata": {"name": "db", "namespace": "dp-prod", "labels": DATA_LABELS},
                "spec": {
                    "replicas": 1,
                    "template": pod_template(DATA_LABELS),
                    "volumeClaimTemplates": [
                        {
                            "metadata": {"name": "data"},
                            "spec": {"resources": {"requests": {"storage": "10Gi"}}},
                        }
                    ],
                },
            },
            protect=True,
        ),
        resource(
            f"{k}core/v1:PersistentVolumeClaim",
            "claim",
            {
                "metadata": {"name": "claim", "namespace": "dp-prod", "labels": DATA_LABELS},
                "spec": {"resources": {"requests": {"storage": "5Gi"}}},
            },
            protect=True,
        ),
        resource(
            f"{k}core/v1:ConfigMap",
            "files",
            {
                "metadata": {"name": "files", "namespace": "dp-prod", "labels": LABELS},
                "data": {
                    "etc-postgresql-postgresql.conf": POSTGRESQL_CONF,
                    "etc-trino-access-control.properties": ACCESS_CONTROL,
                    "etc-trino-rules.json": json.dumps(RULES),
                    "etc-trino-catalog-lake.properties": CATALOG,
                },
            },
        ),
        resource(
            "docker:index/container:Container",
            "box",
            {
                "name": "dp-prod-box",
                "image": "sha256:abc",
                "user": "1000:1000",
                "privileged": False,
                "capabilities": {"drops": ["ALL"]},
                "securityOpts": ["no-new-privileges:true"],
                "cpus": "1",
                "memory": 1024,
                "memoryReservation": 512,
                "healthcheck": {"tests": ["CMD", "true"]},
                "readOnly": True,
                "envs": ["LOG_LEVEL=info", "DB_URL=postgresql://app@db:5432/app"],
                "ports": [{"internal": 9000, "external": 19000, "ip": "127.0.0.1"}],
                "mounts": [{"type": "volume", "source": "dp-prod-box-data", "target": "/data"}],
                "uploads": [
                    {"file": "/etc/postgresql/postgresql.conf", "content": POSTGRESQL_CONF}
                ],
                "labels": docker_labels(DATA_LABELS),
            },
        ),
        resource(
            "docker:index/volume:Volume",
            "box-data",
            {
                "name": "dp-prod-box-data",
                "labels": docker_labels(DATA_LABELS | {"dataplatform.io/requested-size": "5Gi"}),
            },
            protect=True,
        ),
        resource(
            "docker:index/remoteImage:RemoteImage",
            "img",
            {"name": "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"},
        ),
        *bucket("dp-prod-data", expiration="90d"),
        *bucket("dp-prod-audit", noncurrent=2555, locked=True),
        resource(
            "minio:index/s3BucketRetention:S3BucketRetention",
            "dp-prod-audit-retention",
            {"bucket": "dp-prod-audit", "mode": "COMPLIANCE", "unit": "YEARS", "validityPeriod": 7},
        ),
        resource(
            "pulumi:providers:minio",
            "minio-provider",
            {"minioServer": "minio.example:9000", "minioSsl": "true", "minioUser": "[secret]"},
        ),
        resource(
            "pulumi:providers:postgresql",
            "pg-provider",
            {"host": "db.example", "sslmode": "verify-full", "password": "[secret]"},
        ),
        resource(
            "minio:index/s3BucketPolicy:S3BucketPolicy",
            "data-policy",
            {
                "bucket": "dp-prod-data",
                "policy": json.dumps(
                    {
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"AWS": ["arn:aws:iam::minio:user/trino"]},
                                "Action": ["s3:GetObject"],
                                "Resource": ["arn:aws:s3:::dp-prod-data/*"],
                            }
                        ]
                    }
                ),
            },
        ),
        resource(
            "postgresql:index/database:Database", "appdb", {"name": "dp_prod_app"}, protect=True
        ),
        *kafka(),
        *rbac(),
        resource(
            "postgresql:index/grant:Grant",
            "grant",
            {
                "database": "dp_prod_app",
                "role": "app",
                "objectType": "database",
                "privileges": ["CONNECT"],
            },
        ),
    ]


def component(type_token: str, name: str, inputs: dict[str, Any]) -> Resource:
    """A component resource (not custom) as `dataplatform render` records it."""
    return resource(type_token, name, inputs) | {"custom": False}


def topic(
    name: str, *, classification: str = "confidential", owner: str = "sales-data"
) -> list[Resource]:
    """A compliant pulumi-kafka Topic under a component carrying its governance facts."""
    parent = component(
        TOPIC_COMPONENT,
        f"topic-{name}",
        {"topic": name, "classification": classification, "owner": owner},
    )
    config = {"cleanup.policy": "delete", "retention.ms": "604800000", "min.insync.replicas": "2"}
    child = resource(
        "kafka:index/topic:Topic",
        name,
        {"name": name, "partitions": 6, "replicationFactor": 3, "config": config},
    ) | {"parent": parent["urn"]}
    return [parent, child]


def kafka() -> list[Resource]:
    """Compliant Kafka node and client files, a topic and the topic provider."""
    return [
        resource(
            "kubernetes:core/v1:ConfigMap",
            "kafka-files",
            {
                "metadata": {"name": "kafka-files", "namespace": "dp-prod", "labels": LABELS},
                "data": dict(KAFKA_FILES),
            },
        ),
        *topic("sales.orders"),
        resource(
            "kafka:index/acl:Acl",
            "reader-acl",
            {
                "aclHost": "*",
                "aclOperation": "Read",
                "aclPermissionType": "Allow",
                "aclPrincipal": "User:reader",
                "aclResourceName": "sales.orders",
                "aclResourceType": "Topic",
                "resourcePatternTypeFilter": "Literal",
            },
        ),
        resource(
            "pulumi:providers:kafka",
            "kafka-provider",
            {
                "bootstrapServers": '["kafka.example:9092"]',
                "tlsEnabled": "true",
                "saslMechanism": "scram-sha512",
                "saslUsername": "admin",
                "saslPassword": "[secret]",
            },
        ),
    ]


def rbac() -> list[Resource]:
    """A namespaced run-launcher Role bound to a ServiceAccount in its namespace."""
    k = "kubernetes:rbac.authorization.k8s.io/v1:"
    meta = {"namespace": "dp-prod", "labels": LABELS}
    return [
        resource(
            "kubernetes:core/v1:ServiceAccount",
            "launcher-sa",
            {"metadata": {"name": "launcher", **meta}, "automountServiceAccountToken": True},
        ),
        resource(
            f"{k}Role",
            "launcher-role",
            {"metadata": {"name": "launcher", **meta}, "rules": copy.deepcopy(RUN_LAUNCHER_RULES)},
        ),
        resource(
            f"{k}RoleBinding",
            "launcher-binding",
            {
                "metadata": {"name": "launcher", **meta},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "launcher",
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": "launcher", "namespace": "dp-prod"}
                ],
            },
        ),
    ]


def bucket(
    name: str, *, expiration: str | None = None, noncurrent: int = 30, locked: bool = False
) -> list[Resource]:
    """A compliant MinIO bucket with versioning and lifecycle (and object locking)."""
    rule: dict[str, Any] = {
        "id": "r",
        "status": "Enabled",
        "noncurrentVersionExpirationDays": noncurrent,
    }
    if expiration:
        rule["expiration"] = expiration
    return [
        resource(
            "minio:index/s3Bucket:S3Bucket",
            name,
            {"bucket": name, "acl": "private", "forceDestroy": False, "objectLocking": locked},
            protect=True,
        ),
        resource(
            "minio:index/s3BucketVersioning:S3BucketVersioning",
            f"{name}-v",
            {"bucket": name, "versioningConfiguration": {"status": "Enabled"}},
        ),
        resource(
            "minio:index/ilmPolicy:IlmPolicy", f"{name}-ilm", {"bucket": name, "rules": [rule]}
        ),
    ]


def render_of(resources: list[Resource], stack: str = "prod") -> dict[str, Any]:
    """A render document around `resources`."""
    return {"stack": stack, "project": PROJECT, "resources": resources}


def prod_config(**overrides: dict[str, Any]) -> dict[str, Any]:
    """policies/config/prod.json with per-policy overrides merged in."""
    document = json.loads((POLICY_CONFIG_DIR / "prod.json").read_text())
    for name, values in overrides.items():
        key = name.replace("_", "-")
        entry = document.get(key, {})
        document[key] = (entry if isinstance(entry, dict) else {}) | values
    return document


@pytest.fixture
def evaluate(analyzer: PolicyAnalyzer) -> Callable[..., CheckResult]:
    """Run the pack over resources (default: prod policy config)."""

    def run(
        resources: list[Resource], *, stack: str = "prod", document: dict[str, Any] | None = None
    ) -> CheckResult:
        return check_render(
            render_of(resources, stack),
            analyzer=analyzer,
            policy_document=document or prod_config(),
        )

    return run


def find(resources: list[Resource], name: str) -> Resource:
    """The resource with this logical name."""
    return next(r for r in resources if r["name"] == name)


def config_path(stack: str) -> Path:
    """The committed policy config of a stack."""
    return POLICY_CONFIG_DIR / f"{stack}.json"
