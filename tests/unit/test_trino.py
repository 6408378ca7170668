"""The Trino component as each stack renders it: files parse and say what the config says,
credentials travel only in secret files (never env), workers drain before they stop, and
network paths follow the stack."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

import pytest

from components.trino import (
    HEALTH_CHECK,
    TRUSTSTORE,
    Login,
    TrinoSettings,
    render_coordinator_config,
    render_lake_catalog,
    render_warehouse_catalog,
    render_worker_config,
    start_command,
    termination_grace_seconds,
)
from components.trino.access import render_group_file, render_rules_json
from components.trino.files import POSTGRES_CA_FILE
from components.trino.streams import (
    KAFKA_CA_FILE,
    KAFKA_CATALOG_FILE,
    KAFKA_CLIENT_FILE,
    KAFKA_LISTENER_FILE,
    OPENLINEAGE_LISTENER_FILE,
)
from infra.config import with_tier_defaults
from ops.render import Render, kubernetes_objects
from tests.conftest import KUBERNETES_STACKS, STACKS, cached_render, docker_files
from tests.unit.test_config import raw_config

CREDENTIAL_KEYS = re.compile(r"(password|secret|secret-key|access-key|connection-user)$")
CATALOGS = {"/etc/trino-catalog/lake.properties", "/etc/trino-catalog/warehouse.properties"}
LISTENERS = (OPENLINEAGE_LISTENER_FILE, KAFKA_LISTENER_FILE)
"""Every stack sends lineage and audits queries (docs/trino.md)."""
SHARED_SECRET = "shared-secret-value"
REFRESH_PERIODS = {"dev": "10s", "test": "30s", "prod": "60s"}
"""The tier defaults' access refresh periods (no stack file sets its own)."""


def trino_raw(stack: str) -> dict[str, Any]:
    """The stack's `data-platform:trino` section as validated: its stack file merged over
    the tier's defaults (`TrinoSettings.tier_defaults`)."""
    return with_tier_defaults(raw_config(stack))["trino"]


def settings(stack: str) -> TrinoSettings:
    """The stack's Trino settings as the program sees them."""
    return TrinoSettings.model_validate(trino_raw(stack))


def parse_properties(text: str) -> dict[str, str]:
    """A Java properties file as rendered here: `key=value` lines, no duplicates."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "!")):
            continue
        key, separator, value = line.partition("=")
        assert separator, f"not a property line: {line!r}"
        assert key.strip() == key and key, f"bad key in {line!r}"
        assert key not in values, f"duplicate key {key}"
        values[key] = value
    return values


def _k8s(render: Render, kind: str, name: str) -> dict[str, Any]:
    [obj] = [
        o for o in kubernetes_objects(render) if o["kind"] == kind and o["metadata"]["name"] == name
    ]
    return obj


def rendered_files(
    stack: str, component: str = "coordinator", *, render: Render | None = None
) -> tuple[dict[str, str], set[str]]:
    """Plain files by container path, and the paths of secret files, as the runtime ships them
    (in the stack's render, or in `render`).

    Kubernetes: paths come from the pod's projected volumes (mount path + item path), the
    plain contents from the ConfigMap; Docker: from the files volume the container mounts.
    """
    render = render or cached_render(stack)
    if stack == "dev":
        files = docker_files(render, f"dp-dev-trino-{component}")
        plain = {path: content for path, content in files.items() if content != "[secret]"}
        return plain, {path for path, content in files.items() if content == "[secret]"}
    config_map = _k8s(render, "ConfigMap", f"trino-{component}-config")["data"]
    pod = _k8s(render, "Deployment", f"trino-{component}")["spec"]["template"]["spec"]
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    plain: dict[str, str] = {}
    secret: set[str] = set()
    for volume in pod["volumes"]:
        for source in volume.get("projected", {}).get("sources", []):
            for kind, projection in source.items():
                for item in projection["items"]:
                    path = posixpath.join(mounts[volume["name"]], item["path"])
                    if kind == "configMap":
                        plain[path] = config_map[item["key"]]
                    else:
                        secret.add(path)
    return plain, secret


def coordinator_config(stack: str) -> dict[str, str]:
    """The coordinator's `config.properties` as the component renders it (a secret file
    where it carries the shared secret, so it is rendered here with a stand-in value)."""
    config = settings(stack)
    secret = SHARED_SECRET if config.workers or stack != "dev" else None
    discovery = rendered_discovery_uri(stack)
    return parse_properties(
        render_coordinator_config(
            config, discovery_uri=discovery, shared_secret=secret, event_listeners=LISTENERS
        )
    )


def rendered_discovery_uri(stack: str) -> str:
    """The discovery URI the runtime gives the coordinator's host."""
    return (
        "http://trino-coordinator:8080"
        if stack == "dev"
        else f"http://trino-coordinator.dp-{stack}.svc.cluster.local:8080"
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_file_parses(stack: str) -> None:
    files, _ = rendered_files(stack)
    for path, content in files.items():
        if path.endswith(".properties"):
            parse_properties(content)
        elif path.endswith(".json"):
            assert isinstance(json.loads(content), dict)
        elif path.endswith("group.txt"):
            assert all(
                re.fullmatch(r"[a-z][a-z0-9-]*:[a-z0-9_,-]+", line) for line in content.splitlines()
            )
        elif path.endswith("jvm.config"):
            assert all(line.startswith("-") for line in content.splitlines())
        else:
            pytest.fail(f"unexpected file {path}")
        assert content.endswith("\n")


@pytest.mark.parametrize("stack", STACKS)
def test_coordinator_files_follow_config(stack: str) -> None:
    config = settings(stack)
    files, secret_files = rendered_files(stack)
    expected = {
        "/etc/trino/config.properties",
        "/etc/trino/node.properties",
        "/etc/trino/jvm.config",
        "/etc/trino/log.properties",
        "/etc/trino/access-control.properties",
        "/etc/trino/rules.json",
        "/etc/trino/group-provider.properties",
        "/etc/trino/group.txt",
        *LISTENERS,
        KAFKA_CATALOG_FILE,
    }
    secure = stack != "dev"
    if secure:
        expected.add("/etc/trino/password-authenticator.properties")
        expected.remove("/etc/trino/config.properties")  # carries the shared secret
    assert set(files) == expected
    assert secret_files == CATALOGS | {KAFKA_CLIENT_FILE} | (
        {
            "/etc/trino/password.db",
            "/etc/trino/server.pem",
            "/etc/trino/config.properties",
            "/etc/trino/s3-ca.pem",  # MinIO serves TLS with its own certificate
            KAFKA_CA_FILE,  # so do the Kafka brokers
            POSTGRES_CA_FILE,  # and PostgreSQL: the catalogs verify it
        }
        if secure
        else set()
    )

    props = coordinator_config(stack)
    if not secure:
        assert parse_properties(files["/etc/trino/config.properties"]) == props
    assert props["coordinator"] == "true"
    assert props["http-server.http.port"] == "8080"
    assert props["discovery.uri"].startswith("http://trino-coordinator")
    assert props["catalog.config-dir"] == "/etc/trino-catalog"
    assert props["node-scheduler.include-coordinator"] == ("false" if config.workers else "true")
    assert props["query.max-memory-per-node"] == f"{config.coordinator.query_memory_mib}MB"
    if secure:
        assert props["http-server.https.enabled"] == "true"
        assert props["http-server.https.port"] == "8443"
        assert props["http-server.https.keystore.path"] == "/etc/trino/server.pem"
        assert props["http-server.authentication.type"] == "PASSWORD"
        assert props["internal-communication.shared-secret"] == SHARED_SECRET
        authenticator = parse_properties(files["/etc/trino/password-authenticator.properties"])
        assert authenticator == {
            "password-authenticator.name": "file",
            "file.password-file": "/etc/trino/password.db",
        }
    else:
        assert not {k for k in props if k.startswith(("http-server.https", "http-server.auth"))}

    node = parse_properties(files["/etc/trino/node.properties"])
    assert node == {"node.environment": stack, "node.data-dir": "/data/trino"}
    assert parse_properties(files["/etc/trino/log.properties"]) == {"io.trino": "INFO"}


@pytest.mark.parametrize("stack", STACKS)
def test_jvm_heap_is_sized_from_the_memory_limit(stack: str) -> None:
    raw = trino_raw(stack)
    files, _ = rendered_files(stack)
    jvm = files["/etc/trino/jvm.config"].splitlines()
    [xmx] = [line for line in jvm if line.startswith("-Xmx")]
    limit = raw["coordinator"]["resources"]["memoryLimit"]
    assert limit.endswith("Gi")
    assert xmx == f"-Xmx{int(int(limit[:-2]) * 1024 * 0.7)}M"
    assert "-agentpath:/usr/lib/trino/bin/libjvmkill.so" in jvm
    heap = int(xmx[4:-1])
    assert "--add-modules=jdk.incubator.vector" in jvm  # Trino >= 477 needs the Vector API
    per_node = int(coordinator_config(stack)["query.max-memory-per-node"][:-2])
    assert per_node <= heap * 0.3  # leaves Trino's default 30% heap headroom


@pytest.mark.parametrize("stack", STACKS)
def test_access_control_and_groups_are_rendered_from_the_policy(stack: str) -> None:
    config = settings(stack)
    files, _ = rendered_files(stack)
    assert parse_properties(files["/etc/trino/access-control.properties"]) == {
        "access-control.name": "file",
        "security.config-file": "/etc/trino/rules.json",
        "security.refresh-period": REFRESH_PERIODS[stack],
    }
    assert parse_properties(files["/etc/trino/group-provider.properties"]) == {
        "group-provider.name": "file",
        "file.group-file": "/etc/trino/group.txt",
    }
    assert files["/etc/trino/rules.json"] == render_rules_json(config.access)
    assert files["/etc/trino/group.txt"] == render_group_file(config.access)


def test_catalogs_use_native_s3_jdbc_iceberg_and_carry_their_credentials() -> None:
    """The catalog files hold their credentials themselves (Trino has no file reference),
    which is why the component ships them as secret files."""
    lake = parse_properties(
        render_lake_catalog(
            jdbc_url="jdbc:postgresql://postgres-server:5432/iceberg?sslmode=require",
            jdbc=Login(user="iceberg", password="lake-password"),
            s3_endpoint="https://minio-server:9000",
            s3=Login(user="access", password="s3-secret"),
            path_style=True,
            warehouse_dir="s3://dp-prod-gold/warehouse",
            region="us-east-1",
        )
    )
    assert lake["connector.name"] == "iceberg"
    assert lake["iceberg.catalog.type"] == "jdbc"
    assert lake["iceberg.jdbc-catalog.catalog-name"] == "lake"
    assert lake["iceberg.jdbc-catalog.default-warehouse-dir"] == "s3://dp-prod-gold/warehouse"
    assert lake["fs.native-s3.enabled"] == "true"  # the name 476 and 483 both accept
    assert lake["s3.path-style-access"] == "true"
    assert lake["s3.endpoint"] == "https://minio-server:9000"
    assert lake["iceberg.jdbc-catalog.connection-password"] == "lake-password"
    assert lake["s3.aws-secret-key"] == "s3-secret"
    assert not [k for k in lake if k.startswith(("hive.s3", "hive.metastore"))]
    warehouse = parse_properties(
        render_warehouse_catalog(
            jdbc_url="jdbc:postgresql://postgres-server:5432/warehouse",
            jdbc=Login(user="trino", password="wh-password"),
        )
    )
    assert warehouse["connector.name"] == "postgresql"
    assert warehouse["connection-password"] == "wh-password"
    assert warehouse["insert.non-transactional-insert.enabled"] == "true"


@pytest.mark.parametrize("stack", STACKS)
def test_no_credential_travels_in_env_or_plain_files(stack: str) -> None:
    """Every file with a credential key is a secret file, and no Trino container has env."""
    for component in ("coordinator", *(("worker",) if settings(stack).workers else ())):
        files, secret_files = rendered_files(stack, component)
        assert secret_files >= CATALOGS
        for path, content in files.items():
            if path.endswith(".properties"):
                leaked = [k for k in parse_properties(content) if CREDENTIAL_KEYS.search(k)]
                assert leaked == [], f"{path} carries {leaked} in plain config"
            assert "${ENV:" not in content
        if stack == "dev":
            [container] = [
                c
                for c in cached_render("dev").of_type("docker:index/container:Container")
                if c["name"] == f"dp-dev-trino-{component}"
            ]
            assert not container["inputs"].get("envs")
        else:
            pod = _k8s(cached_render(stack), "Deployment", f"trino-{component}")
            [container] = pod["spec"]["template"]["spec"]["containers"]
            assert not container.get("env") and not container.get("envFrom")


@pytest.mark.parametrize("stack", STACKS)
def test_no_trino_credential_appears_in_plain_text(stack: str) -> None:
    text = cached_render(stack).to_json()
    # mocked RandomPassword: result `mock-<name>`, bcryptHash `$2a$10$mock<name>`
    assert f"mock-dp-{stack}-trino" not in text
    assert "$2a$10$mock" not in text
    assert "mock-private-key" not in text
    assert f"mock-dp-{stack}-minio-user-trino-secret" not in text
    assert f"mock-dp-{stack}-postgres" not in text
    for obj in kubernetes_objects(cached_render(stack)) if stack != "dev" else ():
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("trino-"):
            blob = json.dumps(obj)
            assert "[secret]" not in blob and "BEGIN" not in blob and "$2a$" not in blob


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_secret_files_live_in_the_secret(stack: str) -> None:
    secret = _k8s(cached_render(stack), "Secret", "trino-coordinator-secrets")
    assert set(secret["stringData"]) == {
        "etc-trino-catalog-lake.properties",
        "etc-trino-catalog-warehouse.properties",
        "etc-trino-config.properties",
        "etc-trino-kafka-ca.pem",
        "etc-trino-kafka-client.properties",
        "etc-trino-password.db",
        "etc-trino-postgres-ca.pem",
        "etc-trino-s3-ca.pem",
        "etc-trino-server.pem",
    }
    assert set(secret["stringData"].values()) == {"[secret]"}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_each_user_gets_a_generated_password_hashed_by_random(stack: str) -> None:
    render = cached_render(stack)
    passwords = {
        r["name"]
        for r in render.of_type("random:index/randomPassword:RandomPassword")
        if r["name"].startswith(f"dp-{stack}-trino-user-")
    }
    users = settings(stack).access.users
    assert passwords == {f"dp-{stack}-trino-user-{u}-password" for u in users}
    certs = render.of_type("tls:index/selfSignedCert:SelfSignedCert")
    trino_cert = [c for c in certs if c["name"] == f"dp-{stack}-trino-tls-cert"]
    assert trino_cert and "trino-coordinator" in trino_cert[0]["inputs"]["dnsNames"]


def test_dev_has_no_passwords_tls_or_shared_secret() -> None:
    names = {r["name"] for r in cached_render("dev").resources}
    assert not [n for n in names if n.startswith("dp-dev-trino-user-") or "trino-tls" in n]
    assert "dp-dev-trino-internal-shared-secret" not in names


def test_dev_container_uses_the_image_health_check_and_loopback_port() -> None:
    [container] = [
        c
        for c in cached_render("dev").of_type("docker:index/container:Container")
        if c["name"] == "dp-dev-trino-coordinator"
    ]
    inputs = container["inputs"]
    assert inputs["healthcheck"]["tests"] == ["CMD", HEALTH_CHECK]
    assert inputs["ports"] == [
        {"external": 18080, "internal": 8080, "ip": "127.0.0.1", "protocol": "tcp"}
    ]
    assert inputs["user"] == "1000:1000"
    assert set(inputs["tmpfs"]) == {"/data/trino", "/tmp"}
    assert not inputs.get("envs")  # credentials are in the secret catalog files


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_kubernetes_pods_probe_with_the_health_check_and_run_as_trino(stack: str) -> None:
    """Field failure 10: GET /v1/info answers 200 while Trino is still starting, so the
    probes run the image's health check (it waits for `"starting": false`), and a startup
    probe covers the slow start."""
    for name in ("trino-coordinator", *(("trino-worker",) if settings(stack).workers else ())):
        deployment = _k8s(cached_render(stack), "Deployment", name)
        pod = deployment["spec"]["template"]["spec"]
        [container] = pod["containers"]
        assert container["image"] == settings(stack).image == "trinodb/trino:483"
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["exec"] == {"command": [HEALTH_CHECK]}, probe
            assert "httpGet" not in container[probe]
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 180
        assert pod["securityContext"]["runAsUser"] == 1000
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/etc/trino", "/etc/trino-catalog", "/data/trino", "/tmp"} <= mounts
        labels = deployment["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "trino"
        assert labels["app.kubernetes.io/version"] == "483"
        assert "dataplatform.io/color" not in labels  # blue-green comes later


def test_prod_runs_workers_and_a_single_coordinator() -> None:
    render = cached_render("prod")
    config = settings("prod")
    assert config.workers is not None and config.workers.replicas >= 2
    coordinator = _k8s(render, "Deployment", "trino-coordinator")
    worker = _k8s(render, "Deployment", "trino-worker")
    assert coordinator["spec"]["replicas"] == 1
    assert worker["spec"]["replicas"] == config.workers.replicas
    assert _k8s(render, "PodDisruptionBudget", "trino-worker")["spec"]["maxUnavailable"] == 1
    files, secret_files = rendered_files("prod", "worker")
    props = parse_properties(
        render_worker_config(
            config,
            config.workers,
            discovery_uri=rendered_discovery_uri("prod"),
            shared_secret=SHARED_SECRET,
        )
    )
    assert props["coordinator"] == "false"
    assert props["internal-communication.shared-secret"] == SHARED_SECRET
    assert props["query.max-memory-per-node"] == f"{config.workers.query_memory_mib}MB"
    assert props["shutdown.grace-period"] == f"{config.shutdown_grace_seconds}s"
    assert secret_files == CATALOGS | {
        "/etc/trino/config.properties",
        "/etc/trino/s3-ca.pem",
        POSTGRES_CA_FILE,  # workers read the catalogs' databases too
        KAFKA_CLIENT_FILE,  # workers read the kafka catalog's topics
        KAFKA_CA_FILE,
    }
    assert KAFKA_CATALOG_FILE in files and not set(LISTENERS) & set(files)
    assert "/etc/trino/rules.json" not in files  # access control runs on the coordinator
    jvm = files["/etc/trino/jvm.config"]
    assert f"-Xmx{config.workers.heap_mib}M" in jvm.splitlines()


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_trino_trusts_the_object_stores_certificate(stack: str) -> None:
    """MinIO serves TLS with a generated certificate outside dev; Trino's S3 client trusts
    only the JVM trust store, so each tier builds one from the certificate before Trino
    starts and points the JVM at it (the integration tests run the same command)."""
    for component in ("coordinator", *(("worker",) if settings(stack).workers else ())):
        files, secret_files = rendered_files(stack, component)
        assert "/etc/trino/s3-ca.pem" in secret_files
        jvm = files["/etc/trino/jvm.config"].splitlines()
        assert f"-Djavax.net.ssl.trustStore={TRUSTSTORE}" in jvm
        assert not [o for o in jvm if "trustStorePassword" in o]
        pod = _k8s(cached_render(stack), "Deployment", f"trino-{component}")
        [container] = pod["spec"]["template"]["spec"]["containers"]
        assert container["command"] == list(start_command(trust_s3=True))
        assert container["command"][2].endswith("exec /usr/lib/trino/bin/run-trino")


def test_dev_without_object_store_tls_runs_the_image_command() -> None:
    files, secret_files = rendered_files("dev")
    assert "/etc/trino/s3-ca.pem" not in secret_files
    assert "trustStore" not in files["/etc/trino/jvm.config"]


def test_prod_workers_drain_before_they_stop() -> None:
    """Field failure 10: a worker's pre-stop hook asks it to shut down gracefully and waits;
    Kubernetes waits longer than the two `shutdown.grace-period` waits of the drain."""
    config = settings("prod")
    pod = _k8s(cached_render("prod"), "Deployment", "trino-worker")["spec"]["template"]["spec"]
    [container] = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    assert (
        "PUT" in command[2] and '"SHUTTING_DOWN"' in command[2] and "/v1/info/state" in command[2]
    )
    assert pod["terminationGracePeriodSeconds"] == termination_grace_seconds(config)
    assert pod["terminationGracePeriodSeconds"] > 2 * config.shutdown_grace_seconds
    coordinator = _k8s(cached_render("prod"), "Deployment", "trino-coordinator")
    assert "lifecycle" not in coordinator["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("stack", ["dev", "test"])
def test_only_prod_asks_for_workers(stack: str) -> None:
    names = {r["name"] for r in cached_render(stack).resources}
    assert not [n for n in names if "trino-worker" in n]


def _policy_targets(render: Render, prefix: str) -> set[tuple[str, int]]:
    """(target app/component, port) pairs a workload's egress NetworkPolicy allows."""
    [egress] = [
        o
        for o in kubernetes_objects(render)
        if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == f"{prefix}-egress"
    ]
    return {
        (
            f"{rule['to'][0]['podSelector']['matchLabels']['app.kubernetes.io/name']}-"
            f"{rule['to'][0]['podSelector']['matchLabels']['app.kubernetes.io/component']}",
            rule["ports"][0]["port"],
        )
        for rule in egress["spec"]["egress"]
    }


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_network_policies_allow_minio_postgres_and_the_cluster_itself(stack: str) -> None:
    render = cached_render(stack)
    coordinator = _policy_targets(render, "trino-coordinator")
    assert {("minio-server", 9000), ("postgres-server", 5432)} <= coordinator
    if stack == "prod":
        assert ("trino-worker", 8080) in coordinator
        worker = _policy_targets(render, "trino-worker")
        assert worker == {
            ("minio-server", 9000),
            ("postgres-server", 5432),
            ("trino-coordinator", 8080),
            ("kafka-broker", 9092),  # the kafka catalog's splits run on workers
        }
        names = {
            o["metadata"]["name"]
            for o in kubernetes_objects(render)
            if o["kind"] == "NetworkPolicy"
        }
        assert {"trino-worker-to-trino-coordinator", "trino-coordinator-to-trino-worker"} <= names
        assert "trino-coordinator-admin-ingress" in names  # HTTPS 8443 from the admin CIDRs


@pytest.mark.parametrize("stack", STACKS)
def test_everything_trino_declares_is_inside_the_trino_component(stack: str) -> None:
    render = cached_render(stack)
    [trino] = render.of_type("dataplatform:query:Trino")
    by_urn = {r["urn"]: r for r in render.resources}
    [platform] = render.of_type("dataplatform:platform:DataPlatform")
    assert trino["parent"] == platform["urn"]
    for resource in render.resources:
        if not resource["name"].startswith(f"dp-{stack}-trino-"):
            continue
        parent = resource["parent"]
        while parent and parent != trino["urn"]:
            parent = by_urn[parent]["parent"]
        assert parent == trino["urn"], f"{resource['name']} is not under the Trino component"


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_trino_opens_kafka_and_marquez_and_waits_for_its_kafka_principal(stack: str) -> None:
    """Lineage and the audit listener run on the coordinator (Marquez's API, the brokers);
    the kafka catalog's splits run on every node; pods start once Trino's SCRAM user and
    ACLs exist (the stream producer's `ready`)."""
    render = cached_render(stack)
    coordinator = _policy_targets(render, "trino-coordinator")
    assert {("kafka-broker", 9092), ("marquez-api", 5000)} <= coordinator
    names = {r["urn"]: r["name"] for r in render.resources}
    for deployment in render.of_type("kubernetes:apps/v1:Deployment"):
        if deployment["name"].startswith(f"dp-{stack}-trino-"):
            waits = {names.get(u) for u in deployment["dependencies"]}
            assert f"dp-{stack}-kafka-user-trino" in waits, deployment["name"]
            assert f"dp-{stack}-kafka-acl-trino-write-topic-audit.trino-queries" in waits
