"""What the Kafka component creates in each stack, under Pulumi's mocks.

dev: one combined node on Docker, its ADMIN listener published on loopback for the topic
provider. test/prod: a broker and a controller StatefulSet (volumes, per-pod names under
the headless Services, PDBs), the admin load balancer the brokers advertise, the topic
provider behind it, topics carrying classification and owner, and per consumer a SCRAM
credential with exactly the ACLs its stream need grants, which its pods wait for.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import javaproperties
import pulumi
import pulumi_random as random
import pytest
import yaml
from pydantic import BaseModel

from components.contracts import (
    Requirements,
    Service,
    ServiceContext,
    StreamAccess,
    StreamNeed,
)
from components.kafka.access import acl_bindings
from components.kafka.cluster import Naming, layout
from components.kafka.component import checked_host
from components.kafka.files import server_properties, topic_specs
from components.kafka.service import SERVICE as KAFKA
from components.kafka.workloads import ADMIN_HOST_TOKEN, PATHS
from components.runtime.stack import Target
from infra.config import parse_config
from infra.platform import DataPlatform
from infra.services import SERVICES, enabled_settings, stack_requirements
from ops.render import (
    LOAD_BALANCER_ADDRESS,
    Render,
    kubernetes_objects,
    render_program,
    render_stack,
    stack_file,
)
from tests.conftest import KUBERNETES_STACKS, STACKS, cached_render, docker_files
from tests.support.kafka_stacks import stack_kafka_settings
from tests.unit.test_config import raw_config

BROKER_FILES = "etc-kafka-config-node-{}.properties"


def _objects(stack: str, kind: str) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"]: o
        for o in kubernetes_objects(cached_render(stack))
        if o["kind"] == kind
    }


def _by_urn(render: Render) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in render.resources}


def _named(render: Render, name: str) -> dict[str, Any]:
    [found] = [r for r in render.resources if r["name"] == name]
    return found


def _waits_for(render: Render, resource: dict[str, Any]) -> set[str]:
    by_urn = _by_urn(render)
    return {by_urn[u]["name"] for u in resource["dependencies"]}


# --- dev: one combined node on Docker --------------------------------------------------


def test_dev_runs_one_combined_node_with_its_admin_listener_on_loopback() -> None:
    render = cached_render("dev")
    [node] = [
        c
        for c in render.of_type("docker:index/container:Container")
        if c["name"] == "dp-dev-kafka-broker"
    ]
    assert node["inputs"]["ports"] == [
        {"external": 19092, "internal": 9095, "ip": "127.0.0.1", "protocol": "tcp"}
    ]
    props = javaproperties.loads(
        docker_files(render, "dp-dev-kafka-broker")["/etc/kafka/config/node-0.properties"]
    )
    assert props["process.roles"] == "broker,controller"
    assert props["advertised.listeners"].endswith(",ADMIN://127.0.0.1:19092")
    assert "ADMIN:PLAINTEXT" in props["listener.security.protocol.map"]
    assert node["inputs"]["healthcheck"]["tests"] == [
        "CMD",
        "bash",
        "-c",
        "exec 3<>/dev/tcp/127.0.0.1/9092",
    ]
    [provider] = render.of_type("pulumi:providers:kafka")
    assert provider["inputs"]["bootstrapServers"] == '["127.0.0.1:19092"]'
    assert provider["inputs"]["tlsEnabled"] == "false"
    # No credentials: the provider speaks SASL only when given a user and password.
    assert not {"saslUsername", "saslPassword"} & set(provider["inputs"])


def test_dev_grants_no_credentials_without_an_authorizer() -> None:
    # No authorizer in dev: Kafka would refuse ACLs (SECURITY_DISABLED); consumers connect
    # in PLAINTEXT on the Docker network and get no password.
    render = cached_render("dev")
    assert render.of_type("kafka:index/acl:Acl") == []
    assert render.of_type("kafka:index/userScramCredential:UserScramCredential") == []


# --- test/prod: the production shape on Kubernetes -------------------------------------


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_brokers_and_controllers_are_stateful_sets_with_volumes_and_budgets(stack: str) -> None:
    sets = _objects(stack, "StatefulSet")
    budgets = _objects(stack, "PodDisruptionBudget")
    for pool in ("kafka-broker", "kafka-controller"):
        spec = sets[pool]["spec"]
        assert spec["replicas"] == 3
        assert spec["serviceName"] == f"{pool}-headless"
        [claim] = spec["volumeClaimTemplates"]
        assert claim["metadata"]["name"] == "data"
        assert budgets[pool]["spec"] == {
            "maxUnavailable": 1,
            "selector": spec["selector"],
        }
    assert _objects(stack, "Service")["kafka-broker-headless"]["spec"]["clusterIP"] == "None"


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_each_pod_finds_its_own_rendered_config_by_ordinal(stack: str) -> None:
    config = _objects(stack, "ConfigMap")
    brokers = config["kafka-broker-config"]["data"]
    controllers = config["kafka-controller-config"]["data"]
    namespace = f"dp-{stack}"
    for ordinal in range(3):
        broker = javaproperties.loads(brokers[BROKER_FILES.format(ordinal)])
        host = f"kafka-broker-{ordinal}.kafka-broker-headless.{namespace}.svc.cluster.local"
        assert broker["node.id"] == str(ordinal)
        assert broker["advertised.listeners"] == (
            f"CLIENT://{host}:9092,INTERNAL://{host}:9094,ADMIN://{ADMIN_HOST_TOKEN}:9095"
        )
        controller = javaproperties.loads(controllers[BROKER_FILES.format(ordinal)])
        assert controller["node.id"] == str(1000 + ordinal)
        assert controller["process.roles"] == "controller"
    script = _objects(stack, "StatefulSet")["kafka-broker"]["spec"]["template"]["spec"][
        "containers"
    ][0]["command"][2]
    assert 'ordinal="${HOSTNAME##*-}"' in script
    assert f"s|{ADMIN_HOST_TOKEN}|$host|g" in script and "/etc/kafka/secrets/admin-host" in script
    assert "kafka-storage.sh format --ignore-formatted" in script
    # `=` form: a generated id may start with `-` (tests/integration/test_kafka_dev.py).
    assert '--cluster-id="$(cat /etc/kafka/secrets/cluster-id)"' in script
    assert '--add-scram "$(cat /etc/kafka/secrets/admin-scram)"' in script
    assert (
        script.splitlines()[-1]
        == "exec /opt/kafka/bin/kafka-server-start.sh /tmp/server.properties"
    )


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_secret_material_reaches_the_nodes_as_secret_files_only(stack: str) -> None:
    render = render_stack(stack, preview=False)  # a deploy: the admin host is known
    secrets = {
        o["metadata"]["name"]: o for o in kubernetes_objects(render) if o["kind"] == "Secret"
    }
    assert set(secrets["kafka-broker-secrets"]["stringData"]) == {
        "etc-kafka-secrets-cluster-id",
        "etc-kafka-secrets-admin-scram",
        "etc-kafka-secrets-admin-client.properties",
        "etc-kafka-secrets-admin-host",
        "etc-kafka-tls-node-keystore.pem",
        "etc-kafka-tls-ca.crt",
    }
    assert set(secrets["kafka-controller-secrets"]["stringData"]) == {
        "etc-kafka-secrets-cluster-id",
        "etc-kafka-secrets-admin-scram",
        "etc-kafka-tls-node-keystore.pem",
        "etc-kafka-tls-ca.crt",
    }
    for obj in secrets.values():
        assert set(obj["stringData"].values()) == {"[secret]"}
    for name, config in _objects(stack, "ConfigMap").items():
        if name.startswith("kafka-"):
            assert "password" not in str(config["data"]).lower()


@pytest.mark.parametrize("stack", STACKS)
def test_the_cluster_id_is_generated_once_and_kept(stack: str) -> None:
    [cluster_id] = cached_render(stack).of_type("random:index/randomId:RandomId")
    assert cluster_id["inputs"] == {"byteLength": 16}  # no keepers: never regenerated
    assert "kafka" in cluster_id["name"]


def test_the_provider_reaches_the_brokers_through_the_admin_load_balancer() -> None:
    render = cached_render("prod")
    [provider] = render.of_type("pulumi:providers:kafka")
    [source] = provider["property_dependencies"]["bootstrapServers"]
    balancer = _by_urn(render)[source]
    assert balancer["name"] == "dp-prod-kafka-broker-admin"
    spec = balancer["inputs"]["spec"]
    assert spec["type"] == "LoadBalancer" and spec["loadBalancerSourceRanges"] == ["10.40.12.0/24"]
    assert spec["ports"] == [
        {"name": "admin", "port": 9095, "protocol": "TCP", "targetPort": "admin"}
    ]
    inputs = provider["inputs"]
    assert (inputs["saslMechanism"], inputs["saslUsername"]) == ("scram-sha512", "admin")
    assert inputs["saslPassword"] == "[secret]" and inputs["tlsEnabled"] == "true"
    # The load balancer's address is not in the nodes' certificate (it does not exist
    # when the certificate is made): encrypted, not verified, as for MinIO/PostgreSQL.
    assert inputs["skipTlsVerify"] == "true"
    [deployed] = render_stack("prod", preview=False).of_type("pulumi:providers:kafka")
    assert deployed["inputs"]["bootstrapServers"] == f'["{LOAD_BALANCER_ADDRESS}:9095"]'


def test_the_brokers_advertise_the_load_balancer_they_are_reached_through() -> None:
    # The broker Secret's admin-host file is made from the balancer's address, so the
    # StatefulSet starts after the balancer has one.
    render = cached_render("prod")
    secret = _named(render, "dp-prod-kafka-broker-secrets")
    assert "dp-prod-kafka-broker-admin" in _waits_for(render, secret)
    assert "dp-prod-kafka-broker-secrets" in _waits_for(
        render, _named(render, "dp-prod-kafka-broker")
    )


@pytest.mark.parametrize("stack", STACKS)
def test_topics_carry_their_config_classification_and_owner(stack: str) -> None:
    render = cached_render(stack)
    by_urn = _by_urn(render)
    settings = stack_kafka_settings(stack)
    declared = {t.name: t for t in settings.topics}
    specs = {s.name: s for s in topic_specs(settings)}
    topics = render.of_type("kafka:index/topic:Topic")
    assert {t["inputs"]["name"] for t in topics} == set(declared)
    for topic in topics:
        name = topic["inputs"]["name"]
        parent = by_urn[topic["parent"]]
        assert parent["type"] == "dataplatform:streaming:KafkaTopic"
        assert parent["inputs"]["topic"] == name
        assert parent["inputs"]["classification"] == declared[name].classification.value
        assert parent["inputs"]["owner"] == declared[name].owner
        assert topic["inputs"]["config"] == specs[name].config
        assert int(topic["inputs"]["partitions"]) == specs[name].partitions
        assert int(topic["inputs"]["replicationFactor"]) == specs[name].replication_factor
        assert topic["options"]["protect"] is (stack == "prod")
        waits = _waits_for(render, topic)
        if stack == "dev":
            assert f"dp-{stack}-kafka-broker" in waits
        else:
            assert {
                f"dp-{stack}-kafka-broker",
                f"dp-{stack}-kafka-controller",
                f"dp-{stack}-kafka-broker-admin",
            } <= waits


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_each_consumer_gets_exactly_the_acls_its_stream_need_grants(stack: str) -> None:
    render = cached_render(stack)
    config = parse_config(stack, raw_config(stack))
    needs = {
        r.consumer: r.stream
        for r in stack_requirements(enabled_settings(config, SERVICES))
        if r.stream
    }
    assert needs, "the stack has stream consumers"
    expected = {
        (
            b.principal_name,
            b.resource_type.value,
            b.resource_name,
            b.pattern.value,
            b.operation.value,
        )
        for consumer, need in needs.items()
        for b in acl_bindings(consumer, need)
    }
    rendered = {
        (
            a["inputs"]["aclPrincipal"],
            a["inputs"]["aclResourceType"],
            a["inputs"]["aclResourceName"],
            a["inputs"]["resourcePatternTypeFilter"],
            a["inputs"]["aclOperation"],
        )
        for a in render.of_type("kafka:index/acl:Acl")
    }
    assert rendered == expected
    assert {a["inputs"]["aclPermissionType"] for a in render.of_type("kafka:index/acl:Acl")} == {
        "Allow"
    }
    users = render.of_type("kafka:index/userScramCredential:UserScramCredential")
    assert {(u["inputs"]["username"], u["inputs"]["scramMechanism"]) for u in users} == {
        (consumer, "SCRAM-SHA-512") for consumer in needs
    }
    assert {u["inputs"]["password"] for u in users} == {"[secret]"}


# --- the StreamProducer contract, through a throwaway consumer ---------------------------


class ProbeSettings(BaseModel):
    """The throwaway consumer's (empty) section."""


PROBE_NEED = StreamNeed(read=("sales.orders",), write=("audit.trino-queries",))
GRANTED: dict[str, StreamAccess] = {}
REFUSED: dict[str, str] = {}


def _probe_requirements(_: BaseModel) -> Requirements:
    return Requirements(consumer="probe", stream=PROBE_NEED)


def _probe_build(ctx: ServiceContext, _: BaseModel) -> pulumi.ComponentResource:
    component = pulumi.ComponentResource("dataplatform:test:Probe", "probe", None, ctx.options())
    access = ctx.stream().stream_access("probe")
    GRANTED[ctx.stack.environment] = access
    try:
        ctx.stream().stream_access("nobody")
    except KeyError as refused:
        REFUSED[ctx.stack.environment] = refused.args[0]
    random.RandomString(
        "probe-pod",
        length=4,
        opts=pulumi.ResourceOptions(parent=component, depends_on=list(access.ready)),
    )
    component.register_outputs({})
    return component


PROBE = Service(name="probe", section="probe", build=_probe_build, requirements=_probe_requirements)


@functools.cache
def _probe_render(stack: str) -> Render:
    config = parse_config(stack, raw_config(stack))

    def program() -> None:
        DataPlatform(
            "p",
            config=config,
            services=(KAFKA, PROBE),
            sections={"kafka": config.kafka, "probe": ProbeSettings()},
        )

    return render_program(program, stack=stack)


@pytest.mark.parametrize("stack", STACKS)
def test_stream_access_hands_out_bootstrap_protocol_and_credential(stack: str) -> None:
    render = _probe_render(stack)
    access = GRANTED[stack]
    assert access.user == "probe"
    assert access.peer.connection().port == 9092
    assert (access.peer.service, access.peer.component) == ("kafka", "broker")
    if stack == "dev":
        assert access.bootstrap == "kafka-broker:9092"
        assert (access.security_protocol, access.sasl_mechanism, access.password) == (
            "PLAINTEXT",
            None,
            None,
        )
        assert access.ca_certificate is None
    else:
        assert access.bootstrap == f"kafka-broker.dp-{stack}.svc.cluster.local:9092"
        assert (access.security_protocol, access.sasl_mechanism) == ("SASL_SSL", "SCRAM-SHA-512")
        assert access.password is not None and access.ca_certificate is not None
    pod = _named(render, "probe-pod")
    waits = _waits_for(render, pod)
    topics = {f"dp-{stack}-kafka-topic-sales.orders", f"dp-{stack}-kafka-topic-audit.trino-queries"}
    assert topics <= waits
    if stack != "dev":
        assert f"dp-{stack}-kafka-user-probe" in waits
        acls = {a["name"] for a in render.of_type("kafka:index/acl:Acl")}
        assert acls == {f"dp-{stack}-kafka-acl-{b.key}" for b in acl_bindings("probe", PROBE_NEED)}
        assert acls <= waits


def test_stream_access_refuses_a_consumer_that_declared_no_stream() -> None:
    _probe_render("prod")
    assert REFUSED["prod"] == "nobody"


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_the_config_maps_hold_the_renderer_output_the_real_broker_tests_run(stack: str) -> None:
    # tests/integration/kafka_server.py starts real nodes from `server_properties` with a
    # loopback layout; the component's files are that function's output for its layout.
    settings = stack_kafka_settings(stack)
    naming = Naming(
        target=Target.KUBERNETES,
        broker_host=f"kafka-broker.dp-{stack}.svc.cluster.local",
        controller_host=f"kafka-controller.dp-{stack}.svc.cluster.local",
    )
    cluster = layout(settings, naming, admin_advertised=f"{ADMIN_HOST_TOKEN}:9095")
    config = _objects(stack, "ConfigMap")
    for pool, nodes in (("broker", cluster.brokers), ("controller", cluster.controllers)):
        data = config[f"kafka-{pool}-config"]["data"]
        assert data == {
            BROKER_FILES.format(ordinal): server_properties(settings, cluster, node.node_id, PATHS)
            for ordinal, node in enumerate(nodes)
        }


# --- a fixed admin address on Kubernetes, and what the start script is handed ----------


@functools.cache
def _fixed_admin_render(directory: str) -> Render:
    document = yaml.safe_load(stack_file("prod").read_text())
    document["config"]["data-platform:adminAccess"] = {
        **document["config"].get("data-platform:adminAccess", {}),
        "kafka": {"host": "kafka-admin.ops.example", "port": 19092},
    }
    path = Path(directory) / "Pulumi.prod.yaml"
    path.write_text(yaml.safe_dump(document))
    return render_stack("prod", config_file=path)


def test_a_fixed_admin_host_is_advertised_as_is_and_verified(tmp_path: Path) -> None:
    render = _fixed_admin_render(str(tmp_path))
    balancers = [
        r["name"]
        for r in render.of_type("kubernetes:core/v1:Service")
        if r["inputs"]["spec"].get("type") == "LoadBalancer"
    ]
    assert "dp-prod-kafka-broker-admin" not in balancers  # the address exists already
    config = {
        o["metadata"]["name"]: o for o in kubernetes_objects(render) if o["kind"] == "ConfigMap"
    }
    broker = javaproperties.loads(config["kafka-broker-config"]["data"][BROKER_FILES.format(1)])
    assert broker["advertised.listeners"].endswith(",ADMIN://kafka-admin.ops.example:19092")
    secret = {o["metadata"]["name"]: o for o in kubernetes_objects(render) if o["kind"] == "Secret"}
    assert "etc-kafka-secrets-admin-host" not in secret["kafka-broker-secrets"]["stringData"]
    [provider] = render.of_type("pulumi:providers:kafka")
    assert provider["inputs"]["bootstrapServers"] == '["kafka-admin.ops.example:19092"]'
    assert provider["inputs"]["skipTlsVerify"] == "false"  # the name is in the certificate
    [cert] = [
        c for c in render.of_type("tls:index/selfSignedCert:SelfSignedCert") if "kafka" in c["name"]
    ]
    assert "kafka-admin.ops.example" in cert["inputs"]["dnsNames"]


@pytest.mark.parametrize("host", ["10.1.2.3", "internal-lb.example.com", "fd00::1"])
def test_load_balancer_addresses_reach_the_start_script_as_they_are(host: str) -> None:
    assert checked_host(host) == host


@pytest.mark.parametrize("host", ["", "a|b", "x;rm -rf /", "$(id)", "a b", "-x"])
def test_anything_a_shell_or_sed_would_read_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="is not a host name or IP"):
        checked_host(host)
