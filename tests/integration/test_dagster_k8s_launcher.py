"""The rendered `K8sRunLauncher` block, loaded by the real dagster-k8s without a cluster.

The Kubernetes-target `dagster.yaml` is served exactly as rendered (PostgreSQL storage on
a real cluster, the launcher with a dummy kubeconfig whose API server is a local socket
that records connections). Dagster validates the block and builds the launcher; the run
Job it would create passes `kubernetes-validate --strict`; a typo'd key is refused; and
the Role grants exactly the Kubernetes calls the installed dagster-k8s makes.
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
    KubernetesLauncher,
    PostgresConnection,
    instance_document,
    pgpass_line,
    run_launcher_role_rules,
)
from components.dagster.settings import DagsterSettings
from tests.integration.dagster_server import VENV, require_dagster, venv_python
from tests.integration.pg_cluster import require_postgres, running_cluster

pytestmark = pytest.mark.integration

SETTINGS = DagsterSettings.model_validate(
    {
        "codeLocations": [
            {"name": "smoke", "image": "registry.example/pipelines:1.0.0", "module": "m"}
        ]
    }
)
RUN_IMAGE = "registry.example/pipelines:1.0.0"


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
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """The rendered Kubernetes-target instance on the prod cluster (verified TLS)."""
    require_postgres()
    require_dagster()
    with running_cluster("prod") as cluster, socket.socket() as api_server:
        api_server.bind(("127.0.0.1", 0))
        api_server.listen(16)
        path = tmp_path_factory.mktemp("dagster-k8s-home")
        _kubeconfig(path / "kubeconfig", api_server.getsockname()[1])
        storage = PostgresConnection(
            host="localhost",
            port=cluster.port,
            passfile=str(path / "pgpass"),
            sslrootcert=str(cluster.directory / "server.crt"),
        )
        (path / "pgpass").write_text(pgpass_line(storage, cluster.passwords["dagster"]))
        (path / "pgpass").chmod(0o600)
        launcher = KubernetesLauncher(
            job_namespace="data-platform",
            service_account_name="dagster-run",
            instance_config_map="dagster-instance",
            pgpass_secret="dagster-pgpass",
            init_image=SETTINGS.image,
            kubeconfig_file=str(path / "kubeconfig"),
        )
        document = yaml.safe_load(
            yaml.safe_dump(instance_document(SETTINGS, storage=storage, launcher=launcher))
        )
        served = Home(path, document, api_server)
        served.write(document)
        yield served


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
    assert loaded["namespace"] == "data-platform"
    assert home.api_connections() == 0


def test_the_run_job_is_restricted_and_passes_kubernetes_validate(
    loaded: dict[str, Any], tmp_path: Path
) -> None:
    job = loaded["job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "dagster-run"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in [*pod["containers"], *pod["initContainers"]]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert "limits" in container["resources"]
    assert not any("PASSWORD" in e["name"] for e in pod["containers"][0].get("env", []))
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
