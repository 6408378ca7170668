"""The rendered `K8sRunLauncher` block, loaded by the real dagster-k8s without a cluster.

The prod stack's `dagster.yaml`, as the component renders it (`rendered_instance`), is
served with the loopback substitutions of `dagster_server` only: PostgreSQL storage on a
real cluster, and the launcher told to use a dummy kubeconfig whose API server is a local
socket that records connections (`with_kubeconfig`). Dagster validates the block and
builds the launcher; the run Job it would create passes `kubernetes-validate --strict`
and mounts the user-code Secret the component renders; a typo'd key is refused; the
daemon's Role grants exactly the Kubernetes calls the installed dagster-k8s makes, and
the webserver's exactly those of terminating a run.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.dagster.files import (
    PostgresConnection,
    pgpass_line,
    run_launcher_role_rules,
    run_terminator_role_rules,
)
from tests.integration.dagster_server import (
    VENV,
    Loopback,
    RenderedInstance,
    on_loopback,
    rendered_instance,
    require_dagster,
    venv_python,
    with_kubeconfig,
)
from tests.integration.pg_cluster import require_postgres, running_cluster

pytestmark = pytest.mark.integration

STACK = "prod"


@dataclass
class Home:
    """A DAGSTER_HOME with the Kubernetes-target `dagster.yaml` and a dummy kubeconfig."""

    path: Path
    document: dict[str, Any]
    api_server: socket.socket

    def write(self, document: dict[str, Any]) -> None:
        """Serve `document` as the instance's `dagster.yaml`."""
        (self.path / "dagster.yaml").write_text(yaml.safe_dump(document))

    def api_connections(self) -> int:
        """Connections the dummy API server received (the kernel queues them unaccepted)."""
        self.api_server.setblocking(False)
        count = 0
        while True:
            try:
                connection, _ = self.api_server.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


def _kubeconfig(path: Path, port: int) -> None:
    cluster = {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}
    context = {"cluster": "dummy", "user": "dummy", "namespace": "data-platform"}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "dummy", "cluster": cluster}],
                "users": [{"name": "dummy", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "dummy", "context": context}],
                "current-context": "dummy",
            }
        )
    )


@pytest.fixture(scope="module")
def rendered() -> RenderedInstance:
    """The component's files for the prod stack."""
    return rendered_instance(STACK)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, rendered: RenderedInstance) -> Iterator[Home]:
    """The rendered Kubernetes-target instance on the prod cluster (TLS on)."""
    require_postgres()
    require_dagster()
    with running_cluster(STACK) as cluster, socket.socket() as api_server:
        api_server.bind(("127.0.0.1", 0))
        api_server.listen(16)
        path = tmp_path_factory.mktemp("dagster-k8s-home")
        _kubeconfig(path / "kubeconfig", api_server.getsockname()[1])
        loopback = Loopback(
            postgres_port=cluster.port,
            passfile=path / "pgpass",
            scratch_dir=path / "scratch",
            grpc_ports={loc.name: 4000 for loc in rendered.settings.code_locations},
            postgres_ca=cluster.ca_file,
        )
        instance, _ = on_loopback(rendered, loopback)
        database = instance["storage"]["postgres"]["postgres_db"]
        storage = PostgresConnection(host="localhost", port=cluster.port)
        assert database["username"] == storage.username
        (path / "pgpass").write_text(pgpass_line(storage, cluster.passwords["dagster"]))
        (path / "pgpass").chmod(0o600)
        document = with_kubeconfig(instance, path / "kubeconfig")
        served = Home(path, document, api_server)
        served.write(document)
        yield served


RUN_IMAGE = "ghcr.io/acme-data/pipelines:1.4.2"
LOAD = """
import json
from dagster import DagsterInstance
from dagster._core.storage.dagster_run import DagsterRun
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import construct_dagster_k8s_job
import kubernetes

instance = DagsterInstance.get()
launcher = instance.run_launcher
run = DagsterRun(job_name="smoke_job", run_id="0" * 32)
context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=True)
job = construct_dagster_k8s_job(
    job_config=context.get_k8s_job_config(job_image=%(image)r, run_launcher=launcher),
    args=["dagster", "api", "execute_run", "{}"],
    job_name="dagster-run-smoke",
    pod_name="dagster-run-smoke",
    component="run_worker",
    user_defined_k8s_config=context.run_k8s_config,
    labels={},
)
print(json.dumps({
    "launcher": type(launcher).__name__,
    "namespace": launcher.job_namespace,
    "job": kubernetes.client.ApiClient().sanitize_for_serialization(job),
}))
"""


@pytest.fixture(scope="module")
def loaded(home: Home) -> dict[str, Any]:
    """What Dagster built from the rendered block: the launcher and the Job of a run."""
    result = venv_python(home.path, LOAD % {"image": RUN_IMAGE})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dagster_builds_the_k8s_run_launcher_without_calling_the_api(
    home: Home, loaded: dict[str, Any]
) -> None:
    assert loaded["launcher"] == "K8sRunLauncher"
    assert loaded["namespace"] == f"dp-{STACK}"
    assert home.api_connections() == 0


def test_the_run_job_is_restricted_and_passes_kubernetes_validate(
    loaded: dict[str, Any], tmp_path: Path
) -> None:
    job = loaded["job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "default"  # the namespace's: no Role, no token
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in [*pod["containers"], *pod["initContainers"]]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "limits" in container["resources"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0].get("env", [])}
    assert not any("PASSWORD" in name for name in env)
    assert env["OPENLINEAGE_NAMESPACE"] == "dataplatform-prod"
    assert env["KAFKA_CLIENT_PROPERTIES"] == "/var/run/secrets/dagster/kafka-client.properties"
    [secrets] = [v for v in pod["volumes"] if v["name"] == "dagster-secrets"]
    items = {item["path"] for item in secrets["secret"]["items"]}
    assert {"pgpass", "aws-credentials", "kafka-client.properties", "slack-webhook"} <= items
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "run"
    manifest = tmp_path / "run-job.yaml"
    manifest.write_text(yaml.safe_dump(job))
    done = subprocess.run(
        [str(Path(sys.executable).parent / "kubernetes-validate"), "--strict", str(manifest)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


TYPO = """
from dagster import DagsterInstance
try:
    DagsterInstance.get().run_launcher
except Exception as error:
    print(type(error).__name__, error)
else:
    print("loaded")
"""


def test_a_typo_in_the_launcher_block_is_refused(home: Home) -> None:
    document = json.loads(json.dumps(home.document))
    config = document["run_launcher"]["config"]
    config["job_namspace"] = config.pop("job_namespace")
    home.write(document)
    try:
        result = venv_python(home.path, TYPO)
    finally:
        home.write(home.document)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("DagsterInvalidConfigError"), result.stdout
    assert "job_namspace" in result.stdout


_CALL = re.compile(r"self\.(batch_api|core_api)\.(\w+?)_namespaced_(\w+)\(")
_CLUSTER_WIDE = re.compile(r"self\.(batch_api|core_api)\.\w+_for_all_namespaces\(|Watch\(")
_VERBS = {"read": "get", "replace": "update", "delete_collection": "deletecollection"}
_STATUS_OR_LOG = re.compile(r"^(job|pod)_(status|log)$")


def _permission(api: str, verb: str, kind: str) -> tuple[str, str, str]:
    """(apiGroup, resource, RBAC verb) a kubernetes-client `<verb>_namespaced_<kind>` needs."""
    group = "batch" if api == "batch_api" else ""
    rbac_verb = _VERBS.get(verb, verb)
    sub = _STATUS_OR_LOG.match(kind)
    resource = f"{sub[1]}s/{sub[2]}" if sub else f"{kind}s"
    return group, resource, rbac_verb


def _granted(rules: list[dict[str, list[str]]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def _function(text: str, name: str) -> str:
    """The source of method `name` in `text` (up to the next `def` at its indentation)."""
    match = re.search(rf"\n(\s+)def {name}\(.*?(?=\n\1def |\Z)", text, re.S)
    assert match, f"{name} not found in dagster-k8s"
    return match.group(0)


def test_the_webserver_role_grants_exactly_what_terminating_a_run_calls() -> None:
    require_dagster()
    site = next((VENV / "lib").glob("python3*/site-packages/dagster_k8s"))
    client = (site / "client.py").read_text()
    launcher = (site / "launcher.py").read_text()
    assert "self._api_client.delete_job(" in _function(launcher, "terminate")
    called = "".join(
        _function(client, name)
        for name in ("delete_job", "get_pod_names_in_job", "get_pods_in_job")
    )
    calls = {_permission(*match.groups()) for match in _CALL.finditer(called)}
    assert calls == _granted(run_terminator_role_rules())


def test_the_role_grants_exactly_the_calls_dagster_k8s_makes() -> None:
    site = next((VENV / "lib").glob("python3*/site-packages/dagster_k8s"), None)
    if site is None:
        require_dagster()
        pytest.fail(f"dagster_k8s not found under {VENV}")
    sources = [(site / name).read_text() for name in ("client.py", "launcher.py")]
    assert not any(_CLUSTER_WIDE.search(text) for text in sources), "needs more than a Role"
    calls = {_permission(*match.groups()) for text in sources for match in _CALL.finditer(text)}
    granted = {
        (group, resource, verb)
        for rule in run_launcher_role_rules()
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert calls <= granted, f"dagster-k8s calls beyond the Role: {sorted(calls - granted)}"
    assert granted <= calls, f"the Role grants what no call needs: {sorted(granted - calls)}"
