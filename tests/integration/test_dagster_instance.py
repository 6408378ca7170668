"""A real Dagster instance served from the component's rendered files, on a real PostgreSQL.

Renders `dagster.yaml` for a Docker-target and a Kubernetes-target stack (they differ only
in the run launcher), serves the Docker one with the run launcher swapped for the default
(`dagster_server.without_engine`: no Docker engine here), and checks what an operator
cares about: the storages are PostgreSQL, runs are queued, every daemon is healthy, the
webserver answers, and a launched run succeeds. The password reaches Dagster only as a
libpq password file copied by the component's start script; no env var carries it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.dagster.files import (
    DockerLauncher,
    InstancePaths,
    KubernetesLauncher,
    PostgresConnection,
    daemon_command,
    grpc_command,
    instance_document,
    pgpass_line,
    start_script,
    webserver_command,
    workspace_yaml,
)
from components.dagster.settings import DAGSTER_VERSION, DagsterSettings
from tests.integration.dagster_server import (
    USER_CODE_MODULE,
    Processes,
    dagster_cli,
    free_port,
    graphql,
    processes,
    require_dagster,
    venv_python,
    wait_for_grpc,
    wait_for_http,
    without_engine,
)
from tests.integration.pg_cluster import Cluster, require_postgres, running_cluster

pytestmark = pytest.mark.integration

SETTINGS = DagsterSettings.model_validate(
    {
        "codeLocations": [
            {
                "name": "smoke",
                "image": "registry.example/pipelines:1.0.0",
                "module": USER_CODE_MODULE,
            }
        ],
        "runQueue": {
            "maxConcurrentRuns": 4,
            "tagConcurrencyLimits": [
                {"key": "team", "perUniqueValue": True, "limit": 2},
                {"key": "dagster/backfill", "limit": 1},
            ],
        },
        "runMonitoring": {"startTimeoutSeconds": 60, "pollIntervalSeconds": 5},
        "retention": {"sensor": {"skipped": 3, "success": 14, "failure": 60}},
    }
)
RUN_DEADLINE_SECONDS = 180


@dataclass
class Served:
    """A running instance: where it lives, its processes and the webserver's URL."""

    home: Path
    cluster: Cluster
    processes: Processes
    url: str
    startup_seconds: float


def connection(cluster: Cluster, home: Path) -> PostgresConnection:
    """The prod cluster over verified TLS, with the password file in the instance's run dir."""
    return PostgresConnection(
        host="localhost",
        port=cluster.port,
        database="dagster",
        username="dagster",
        passfile=str(home / "run" / "pgpass"),
        sslmode="verify-full",
        sslrootcert=str(cluster.directory / "server.crt"),
    )


def rendered(home: Path, storage: PostgresConnection) -> dict[str, dict[str, Any]]:
    """`dagster.yaml` of both targets, parsed back from the rendered text."""
    paths = InstancePaths(scratch_dir=str(home / "scratch"))
    docker = DockerLauncher(network="dp-dev")
    kubernetes = KubernetesLauncher(
        job_namespace="data-platform",
        service_account_name="dagster-run",
        instance_config_map="dagster-instance",
        pgpass_secret="dagster-pgpass",
        init_image=SETTINGS.image,
    )
    return {
        target: yaml.safe_load(
            yaml.safe_dump(
                instance_document(SETTINGS, storage=storage, launcher=launcher, paths=paths)
            )
        )
        for target, launcher in (("docker", docker), ("kubernetes", kubernetes))
    }


def _write_instance(home: Path, cluster: Cluster) -> tuple[dict[str, dict[str, Any]], int]:
    storage = connection(cluster, home)
    (home / "run").mkdir(mode=0o700)
    (home / "secrets").mkdir()
    secret = home / "secrets" / "pgpass"  # as a Secret volume delivers it: group-readable
    secret.write_text(pgpass_line(storage, cluster.passwords["dagster"]))
    secret.chmod(0o440)
    documents = rendered(home, storage)
    (home / "dagster.yaml").write_text(yaml.safe_dump(without_engine(documents["docker"])))
    grpc_port = free_port()
    (home / "workspace.yaml").write_text(
        workspace_yaml(SETTINGS, {"smoke": "127.0.0.1"}, port=grpc_port)
    )
    return documents, grpc_port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Webserver, daemon and code server of the rendered instance on the prod cluster."""
    require_postgres()
    require_dagster()
    with running_cluster("prod") as cluster:
        home = tmp_path_factory.mktemp("dagster-home")
        _, grpc_port = _write_instance(home, cluster)
        copy = {"source": str(home / "secrets" / "pgpass"), "target": str(home / "run" / "pgpass")}
        web_port = free_port()
        workspace = str(home / "workspace.yaml")
        with processes(home) as running:
            # All three share this home (in the pods each has its own /run/dagster): the
            # code server's start script makes the one private copy of the password file
            # (`dagster api grpc` opens the instance at start), the others then use it;
            # a second copy racing the first could truncate it under a connecting process.
            location = SETTINGS.code_locations[0]
            running.start("grpc", start_script(grpc_command(location, port=grpc_port), **copy))
            wait_for_grpc(grpc_port, running)
            started = time.monotonic()
            running.start("webserver", webserver_command(port=web_port, workspace=workspace))
            url = f"http://127.0.0.1:{web_port}"
            wait_for_http(f"{url}/server_info", running)
            startup = time.monotonic() - started
            running.start("daemon", daemon_command(workspace=workspace))
            yield Served(home, cluster, running, url, startup)


def test_both_targets_share_everything_but_the_run_launcher(tmp_path: Path) -> None:
    storage = PostgresConnection(host="postgres", passfile=str(tmp_path / "pgpass"))
    documents = rendered(tmp_path, storage)
    docker, kubernetes = documents["docker"], documents["kubernetes"]
    assert docker["run_launcher"]["class"] == "DockerRunLauncher"
    assert kubernetes["run_launcher"]["class"] == "K8sRunLauncher"
    assert {k: v for k, v in docker.items() if k != "run_launcher"} == {
        k: v for k, v in kubernetes.items() if k != "run_launcher"
    }


def test_instance_info_reports_the_three_postgres_storages(served: Served) -> None:
    result = dagster_cli(served.home, "instance", "info")
    assert result.returncode == 0, result.stderr
    for storage in ("PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"):
        assert storage in result.stdout, result.stdout


COORDINATOR = """
from dagster import DagsterInstance
instance = DagsterInstance.get()
queue = instance.get_concurrency_config().run_queue_config  # what the daemon dequeues by
print(type(instance.run_coordinator).__name__, queue.max_concurrent_runs,
      len(queue.tag_concurrency_limits))
"""


def test_the_instance_queues_runs_with_the_rendered_limit(served: Served) -> None:
    # `instance info` prints the lazily built coordinator as NoneType: ask the instance.
    result = venv_python(served.home, COORDINATOR)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["QueuedRunCoordinator", "4", "2"]


def test_webserver_answers_server_info(served: Served) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{served.url}/server_info", timeout=10) as response:
        info = json.load(response)
    assert info["dagster_webserver_version"] == DAGSTER_VERSION
    print(f"\nwebserver answered /server_info {served.startup_seconds:.1f} s after start")


DAEMONS = """
{ instance {
    daemonHealth { allDaemonStatuses { daemonType required healthy } }
    runQueuingSupported
    runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml }
} }
"""


def _daemon_statuses(served: Served) -> list[dict[str, Any]]:
    return graphql(served.url, DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]


def test_all_daemons_are_healthy_and_runs_are_queued(served: Served) -> None:
    deadline = time.monotonic() + 120
    statuses = _daemon_statuses(served)
    while not all(s["healthy"] for s in statuses) and time.monotonic() < deadline:
        served.processes.check_alive()
        time.sleep(3)
        statuses = _daemon_statuses(served)
    assert statuses and all(s["healthy"] for s in statuses), statuses
    kinds = {s["daemonType"] for s in statuses}
    assert {"QUEUED_RUN_COORDINATOR", "MONITORING", "SCHEDULER", "SENSOR"} <= kinds
    instance = graphql(served.url, DAEMONS)["instance"]
    assert instance["runQueuingSupported"] is True
    assert instance["runQueueConfig"]["maxConcurrentRuns"] == 4
    assert "applyLimitPerUniqueValue" in instance["runQueueConfig"]["tagConcurrencyLimitsYaml"]


LAUNCH = """
mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message }
  ... on RunConfigValidationInvalid { errors { message } }
} }
"""
STATUS = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def test_a_launched_run_goes_through_the_queue_and_succeeds(served: Served) -> None:
    params = {
        "selector": {
            "repositoryLocationName": "smoke",
            "repositoryName": "__repository__",
            "jobName": "smoke_job",
        },
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": "team", "value": "analytics"}]},
    }
    started = time.monotonic()
    launched = graphql(served.url, LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id, status = launched["run"]["runId"], launched["run"]["status"]
    assert status == "QUEUED"  # the queued coordinator took it, the daemon dequeues it
    while status not in FINISHED and time.monotonic() - started < RUN_DEADLINE_SECONDS:
        served.processes.check_alive()
        time.sleep(2)
        status = graphql(served.url, STATUS, {"id": run_id})["runOrError"]["status"]
    assert status == "SUCCESS", served.processes.log("daemon")[-3000:]
    print(f"\nrun {run_id} reached SUCCESS {time.monotonic() - started:.1f} s after launch")
    conn = served.cluster.connect("dagster", "dagster")
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,))
        assert cur.fetchone() == ("SUCCESS",)
