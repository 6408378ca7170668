"""What each stack would create: targets, labels, security, protection, secrets, determinism."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ops.render import Render, kubernetes_objects, render_stack, write_manifests
from tests.conftest import KUBERNETES_STACKS, STACKS, cached_render

REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/version",
    "dataplatform.io/environment",
    "dataplatform.io/owner",
    "dataplatform.io/cost-center",
)
WORKLOAD_KINDS = ("Deployment", "StatefulSet")


def docker_servers(render: Render) -> list[dict]:
    """Long-running Docker containers (not the one-shot volume helpers)."""
    return [
        c
        for c in render.of_type("docker:index/container:Container")
        if c["inputs"].get("mustRun") is not False
    ]


def _workload_types(render: Render) -> set[str]:
    return {
        r["type"].split(":")[0]
        for r in render.resources
        if r["custom"] and r["type"].split(":")[0] in {"docker", "kubernetes"}
    }


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_renders_resources(stack: str) -> None:
    render = cached_render(stack)
    assert len(render.resources) > 20
    assert all(
        r["urn"].startswith(f"urn:pulumi:{stack}::data-platform::") for r in render.resources
    )


def test_dev_is_all_docker() -> None:
    render = cached_render("dev")
    assert _workload_types(render) == {"docker"}
    assert render.of_type("docker:index/container:Container")


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_test_and_prod_are_all_kubernetes(stack: str) -> None:
    render = cached_render(stack)
    assert _workload_types(render) == {"kubernetes"}
    assert not [r for r in render.resources if r["type"].startswith("docker:")]


@pytest.mark.parametrize("stack", STACKS)
def test_two_renders_are_byte_identical(stack: str) -> None:
    assert render_stack(stack).to_json() == cached_render(stack).to_json()


def test_renders_do_not_leak_between_stacks() -> None:
    prod = cached_render("prod")
    dev = render_stack("dev")
    assert not [r for r in dev.resources if ":prod::" in r["urn"]]
    assert len(render_stack("prod").resources) == len(prod.resources)


@pytest.mark.parametrize("stack", STACKS)
def test_every_child_has_a_parent_and_components_register(stack: str) -> None:
    render = cached_render(stack)
    urns = {r["urn"] for r in render.resources}
    for resource in render.resources:
        if resource["type"] == "dataplatform:platform:DataPlatform":
            continue
        assert resource["parent"] in urns, f"{resource['name']} has no component parent"


@pytest.mark.parametrize("stack", STACKS)
def test_every_component_registers_its_outputs(stack: str) -> None:
    render = cached_render(stack)
    components = {r["urn"] for r in render.resources if not r["custom"]}
    assert len(components) >= 5  # platform, runtime, object store, postgres, trino
    assert components - render.outputs_registered == set()


@pytest.mark.parametrize("stack", STACKS)
def test_no_generated_secret_appears_in_plain_text(stack: str) -> None:
    text = cached_render(stack).to_json()
    # Under the mocks every generated password, key and certificate is `mock-<name>` and
    # every bcrypt hash `$2a$10$mock<name>`; only the mocked image ids may say "mock".
    leaked = sorted(set(re.findall(r"(?<!sha256:)mock-[A-Za-z0-9-]+", text)))
    assert leaked == []
    assert "$2a$10$mock" not in text
    assert "[secret]" in text


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_kubernetes_secrets_reach_pods_as_files_only(stack: str) -> None:
    """Secrets live in Secrets and reach containers as mounted files, never through env."""
    for obj in kubernetes_objects(cached_render(stack)):
        if obj["kind"] == "Secret":
            # A Secret whose content waits for a load balancer's address is unknown as a
            # whole in a preview (the manifest then has no stringData at all).
            assert set(obj.get("stringData", {"-": "[secret]"}).values()) == {"[secret]"}
        if obj["kind"] == "ConfigMap":
            assert "[secret]" not in json.dumps(obj)
        if obj["kind"] in WORKLOAD_KINDS:
            pod = obj["spec"]["template"]["spec"]
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                for env in container.get("env", []):
                    assert "valueFrom" not in env, env
                    if re.search(r"PASSWORD|SECRET|TOKEN", env["name"]):
                        assert env["name"].endswith("_FILE") or env["value"].startswith("/"), env


def test_docker_servers_get_no_secret_in_env() -> None:
    for container in docker_servers(cached_render("dev")):
        envs = container["inputs"].get("envs", [])
        assert "[secret]" not in envs, container["name"]
        assert not [e for e in envs if re.match(r"[A-Z_]*(PASSWORD|SECRET)[A-Z_]*=[^/]", e)]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_workloads_carry_the_label_vocabulary(stack: str) -> None:
    for obj in kubernetes_objects(cached_render(stack)):
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        for labels in (obj["metadata"]["labels"], obj["spec"]["template"]["metadata"]["labels"]):
            missing = [key for key in REQUIRED_LABELS if key not in labels]
            assert missing == [], f"{obj['metadata']['name']} lacks {missing}"
            assert labels["dataplatform.io/environment"] == stack


def test_docker_containers_carry_labels_and_bind_loopback() -> None:
    for container in docker_servers(cached_render("dev")):
        labels = {item["label"]: item["value"] for item in container["inputs"]["labels"]}
        assert all(key in labels for key in REQUIRED_LABELS)
        # Published ports bind loopback; servers reached on the stack network publish none.
        assert {port["ip"] for port in container["inputs"].get("ports") or []} <= {"127.0.0.1"}
        assert container["inputs"]["healthcheck"]["tests"][0] == "CMD"
        assert container["inputs"]["restart"] == "unless-stopped"
        assert container["inputs"]["readOnly"] is True
        assert container["inputs"]["capabilities"] == {"drops": ["ALL"]}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_pods_follow_the_restricted_profile(stack: str) -> None:
    for obj in kubernetes_objects(cached_render(stack)):
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        # A token only for an account bound to a namespaced Role (it calls the API).
        bound = pod["serviceAccountName"] in _role_bound_accounts(stack)
        assert pod["automountServiceAccountToken"] is bound
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True
            assert set(container["resources"]) == {"requests", "limits"}
            assert "readinessProbe" in container and "livenessProbe" in container


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_namespace_is_default_deny_and_restricted(stack: str) -> None:
    objects = kubernetes_objects(cached_render(stack))
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert [n["metadata"]["name"] for n in namespaces] == [f"dp-{stack}"]
    assert namespaces[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    deny = [
        o
        for o in objects
        if o["kind"] == "NetworkPolicy"
        and o["spec"]["podSelector"] == {}
        and "ingress" not in o["spec"]
        and set(o["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and "egress" not in o["spec"]
    ]
    assert len(deny) == 1
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {
        f"dp-{stack}"
    }


def test_prod_protects_stateful_resources_and_test_does_not() -> None:
    def protected(render: Render) -> set[str]:
        return {r["type"] for r in render.resources if r["options"]["protect"]}

    prod = cached_render("prod")
    assert {
        "kubernetes:core/v1:Namespace",
        "kubernetes:apps/v1:StatefulSet",
        "minio:index/s3Bucket:S3Bucket",
    } <= protected(prod)
    assert all(r["options"]["protect"] for r in prod.of_type("minio:index/s3Bucket:S3Bucket"))
    assert not [r for r in prod.of_type("kubernetes:apps/v1:Deployment") if r["options"]["protect"]]
    assert not [r for r in cached_render("test").resources if r["options"]["protect"]]
    assert not [r for r in cached_render("dev").resources if r["options"]["protect"]]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_statefulset_claims_sized_volumes(stack: str) -> None:
    config = yaml.safe_load(Path(f"Pulumi.{stack}.yaml").read_text())["config"]
    minio = next(
        o
        for o in kubernetes_objects(cached_render(stack))
        if o["kind"] == "StatefulSet" and o["metadata"]["name"] == "minio-server"
    )
    [claim] = minio["spec"]["volumeClaimTemplates"]
    assert (
        claim["spec"]["resources"]["requests"]["storage"]
        == config["data-platform:objectStore"]["volumeSize"]
    )
    assert claim["spec"]["storageClassName"] == config["data-platform:kubernetes"]["storageClass"]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_every_kubernetes_object_passes_kubernetes_validate(stack: str, tmp_path: Path) -> None:
    files = write_manifests(cached_render(stack), tmp_path)
    assert len(files) == len(kubernetes_objects(cached_render(stack)))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert output.count(" passed for resource ") == len(files), output


def test_render_cli_writes_json_and_manifests(tmp_path: Path) -> None:
    from ops.cli import main

    out = tmp_path / "prod.json"
    assert main(["render", "prod", "--out", str(out), "--manifests", str(tmp_path / "m")]) == 0
    document = json.loads(out.read_text())
    assert document["stack"] == "prod" and document["project"] == "data-platform"
    first = document["resources"][0]
    assert {
        "urn",
        "type",
        "name",
        "parent",
        "provider",
        "inputs",
        "options",
        "dependencies",
    } <= set(first)
    assert {"protect", "depends_on"} <= set(first["options"])
    assert list((tmp_path / "m").glob("*.yaml"))


def test_render_cli_reports_bad_config_plainly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.cli import main

    broken = tmp_path / "Pulumi.dev.yaml"
    broken.write_text(
        Path("Pulumi.dev.yaml").read_text().replace("target: docker", "target: mainframe")
    )
    assert main(["render", "dev", "--config", str(broken)]) == 2
    assert "data-platform:platform.target" in capsys.readouterr().err


def test_encrypted_config_values_render_as_placeholders(tmp_path: Path) -> None:
    document = yaml.safe_load(Path("Pulumi.dev.yaml").read_text())
    document["config"]["data-platform:someToken"] = {"secure": "v1:abc:def"}
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    from ops.render import read_stack_config

    config, secret_keys = read_stack_config(path)
    assert config["data-platform:someToken"] == "[secret]"
    assert secret_keys == ["data-platform:someToken"]


def test_docker_scratch_dirs_are_noexec_unless_the_jvm_needs_them() -> None:
    containers = {c["name"]: c for c in docker_servers(cached_render("dev"))}
    for name, container in containers.items():
        for path, options in (container["inputs"].get("tmpfs") or {}).items():
            flags = options.split(",")
            assert "nosuid" in flags and "nodev" in flags
            expected = (
                "exec"
                if (name.endswith(("trino-coordinator", "kafka-broker")) and path == "/tmp")
                else "noexec"
            )
            assert expected in flags, (name, path, options)


def _role_bound_accounts(stack: str) -> set[str]:
    """ServiceAccounts that a RoleBinding binds to a Role (workloads declaring API access)."""
    return {
        subject["name"]
        for o in kubernetes_objects(cached_render(stack))
        if o["kind"] == "RoleBinding" and o["roleRef"]["kind"] == "Role"
        for subject in o["subjects"]
        if subject["kind"] == "ServiceAccount"
    }


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_each_workload_has_its_own_tokenless_identity(stack: str) -> None:
    objects = kubernetes_objects(cached_render(stack))
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    bound = _role_bound_accounts(stack)
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            pod = obj["spec"]["template"]["spec"]
            assert pod["serviceAccountName"] == obj["metadata"]["name"]
            token = accounts[pod["serviceAccountName"]]["automountServiceAccountToken"]
            assert token is (pod["serviceAccountName"] in bound)


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_statefulsets_are_governed_by_headless_services(stack: str) -> None:
    objects = kubernetes_objects(cached_render(stack))
    services = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Service"}
    statefulsets = [o for o in objects if o["kind"] == "StatefulSet"]
    assert statefulsets
    for statefulset in statefulsets:
        governing = services[statefulset["spec"]["serviceName"]]
        assert governing["spec"]["clusterIP"] == "None"
        assert governing["spec"]["selector"] == statefulset["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_containers_bound_ephemeral_storage_to_their_scratch_dirs(stack: str) -> None:
    from components.runtime.quantities import memory_bytes

    for obj in kubernetes_objects(cached_render(stack)):
        if obj["kind"] not in WORKLOAD_KINDS:
            continue
        pod = obj["spec"]["template"]["spec"]
        scratch = sum(
            memory_bytes(v["emptyDir"]["sizeLimit"])
            for v in pod.get("volumes", [])
            if "emptyDir" in v
        )
        for container in pod["containers"]:
            limit = memory_bytes(container["resources"]["limits"]["ephemeral-storage"])
            assert limit >= scratch + 512 * 2**20
            assert container["imagePullPolicy"] == "Always"


def test_prod_replicas_spread_across_nodes() -> None:
    spread = [
        o
        for o in kubernetes_objects(cached_render("prod"))
        if o["kind"] in WORKLOAD_KINDS and o["spec"]["replicas"] > 1
    ]
    assert spread, "prod runs at least one multi-replica tier"
    for obj in spread:
        [constraint] = obj["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert constraint["topologyKey"] == "kubernetes.io/hostname"
        assert constraint["labelSelector"]["matchLabels"] == obj["spec"]["selector"]["matchLabels"]


def test_docker_volumes_are_handed_to_the_non_root_user_before_the_server_starts() -> None:
    render = cached_render("dev")
    containers = {c["name"]: c for c in render.of_type("docker:index/container:Container")}
    volumes = [
        v
        for v in render.of_type("docker:index/volume:Volume")
        if not v["name"].endswith("-files")  # the read-only files volumes need no owner
    ]
    # MinIO's and PostgreSQL's data, and the Dagster daemon's staged run secrets.
    assert {"dp-dev-minio-server-data", "dp-dev-postgres-server-data"} <= {
        v["name"] for v in volumes
    }
    for volume in volumes:
        init = containers[f"{volume['name']}-init"]
        server = next(
            c
            for c in containers.values()
            if any(
                m.get("source") == volume["inputs"]["name"] for m in c["inputs"].get("mounts", [])
            )
            and not c["name"].endswith("-init")
        )
        uid, gid = server["inputs"]["user"].split(":")
        assert init["inputs"]["command"][:2] == ["chown", "-R"]
        assert init["inputs"]["command"][2].split(":")[0] == uid
        assert init["inputs"]["capabilities"] == {"adds": ["CHOWN"], "drops": ["ALL"]}
        assert init["inputs"]["networkMode"] == "none"
        assert init["inputs"]["mustRun"] is False and init["inputs"]["restart"] == "no"
        assert init["urn"] in server["options"]["depends_on"]
        assert gid


def test_docker_files_reach_read_only_servers_through_a_never_started_carrier() -> None:
    render = cached_render("dev")
    containers = {c["name"]: c for c in render.of_type("docker:index/container:Container")}
    carriers = [c for name, c in containers.items() if name.endswith("-files")]
    assert {c["name"] for c in carriers} == {
        "dp-dev-minio-server-files",
        "dp-dev-postgres-iceberg-catalog-files",
        "dp-dev-postgres-server-files",
        "dp-dev-trino-coordinator-files",
        "dp-dev-marquez-api-files",
        "dp-dev-dagster-webserver-files",
        "dp-dev-dagster-daemon-files",
        "dp-dev-dagster-code-pipelines-files",
        "dp-dev-kafka-broker-files",
    }
    for carrier in carriers:
        server = containers[carrier["name"].removesuffix("-files")]
        assert "uploads" not in server["inputs"]  # Docker refuses copies into a read-only root
        assert server["inputs"]["readOnly"] is True
        assert carrier["inputs"]["start"] is False and carrier["inputs"]["mustRun"] is False
        file_mounts = [m for m in server["inputs"]["mounts"] if "volumeOptions" in m]
        assert file_mounts and all(m["readOnly"] is True for m in file_mounts)
        assert carrier["urn"] in server["options"]["depends_on"]
        uploaded = {u["file"].split("/")[2] for u in carrier["inputs"]["uploads"]}
        assert uploaded == {m["volumeOptions"]["subpath"] for m in file_mounts}
