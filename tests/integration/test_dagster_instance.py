"""A real Dagster instance served from the component's rendered files, on a real PostgreSQL.

Takes the `dagster.yaml` and `workspace.yaml` the component renders for the prod stack
(`dagster_server.rendered_instance`: the daemon's and the webserver's ConfigMaps of the
offline render), applies the loopback substitutions of `dagster_server` (one place),
and serves them against a throwaway PostgreSQL 15 + pgaudit cluster with prod's
settings (TLS on): one gRPC code server per code location of the stack (each serving the
tiny `dagster_user_code` module), the webserver and the daemon, started by the
component's commands through its start script. Checks what an operator cares about: the
storages are PostgreSQL, runs are queued with the stack's limits, every daemon is
healthy, the webserver answers, and a run launched from the UI's API succeeds. The
password reaches Dagster only as a libpq password file; no env var carries it.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.dagster.files import (
    PostgresConnection,
    daemon_command,
    grpc_command,
    pgpass_line,
    start_script,
    webserver_command,
)
from components.dagster.settings import DAGSTER_VERSION, CodeLocation
from tests.integration.dagster_server import (
    USER_CODE_MODULE,
    Loopback,
    Processes,
    RenderedInstance,
    dagster_cli,
    environment,
    free_port,
    graphql,
    on_loopback,
    probe_on_loopback,
    processes,
    rendered_instance,
    require_dagster,
    venv_python,
    wait_for_grpc,
    wait_for_http,
    without_engine,
)
from tests.integration.pg_cluster import Cluster, require_postgres, running_cluster

pytestmark = pytest.mark.integration

STACK = "prod"
RUN_DEADLINE_SECONDS = 180
SUBSTITUTED = {
    "storage.postgres.postgres_db.hostname",
    "storage.postgres.postgres_db.port",
    "storage.postgres.postgres_db.params.passfile",
    "storage.postgres.postgres_db.params.sslrootcert",
    "local_artifact_storage.config.base_dir",
    "run_launcher",
}
"""Every path of `dagster.yaml` the loopback substitutions change (dagster_server)."""


@dataclass
class Served:
    """A running instance: where it lives, its processes and the webserver's URL."""

    home: Path
    cluster: Cluster
    rendered: RenderedInstance
    served: dict[str, Any]
    processes: Processes
    url: str
    startup_seconds: float
    grpc_ports: dict[str, int]
    daemon_started: float
    """`time.monotonic()` when the daemon was started."""


@pytest.fixture(scope="module")
def rendered() -> RenderedInstance:
    """The component's files for the prod stack."""
    return rendered_instance(STACK)


def _write_instance(
    home: Path, cluster: Cluster, rendered: RenderedInstance
) -> tuple[dict[str, Any], dict[str, int]]:
    (home / "run").mkdir(mode=0o700)
    (home / "secrets").mkdir()
    ports = {location.name: free_port() for location in rendered.settings.code_locations}
    loopback = Loopback(
        postgres_port=cluster.port,
        passfile=home / "run" / "pgpass",
        scratch_dir=home / "scratch",
        grpc_ports=ports,
        postgres_ca=home / "run" / "postgres-ca.crt",
    )
    instance, workspace = on_loopback(rendered, loopback)
    database = instance["storage"]["postgres"]["postgres_db"]
    storage = PostgresConnection(
        host=database["hostname"],
        port=database["port"],
        database=database["db_name"],
        username=database["username"],
    )
    secret = home / "secrets" / "pgpass"  # as a Secret volume delivers it: group-readable
    secret.write_text(pgpass_line(storage, cluster.passwords["dagster"]))
    secret.chmod(0o440)
    assert cluster.ca_file is not None  # prod requires TLS
    (home / "secrets" / "postgres-ca.crt").write_bytes(cluster.ca_file.read_bytes())
    served = without_engine(instance)
    (home / "dagster.yaml").write_text(yaml.safe_dump(served))
    (home / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    return served, ports


def _serve_locations(
    running: Processes, locations: tuple[CodeLocation, ...], ports: dict[str, int]
) -> None:
    """One code server per location of the stack, each serving the tiny test module; the
    first makes the one private copy of the password file and of the server's certificate
    (they share this home: in the pods each has its own /run/dagster), the others start
    once it exists."""
    copy = {
        "source": str(running.home / "secrets" / "pgpass"),
        "target": str(running.home / "run" / "pgpass"),
        "ca_source": str(running.home / "secrets" / "postgres-ca.crt"),
        "ca_target": str(running.home / "run" / "postgres-ca.crt"),
    }
    for index, location in enumerate(locations):
        served = location.model_copy(update={"module": USER_CODE_MODULE, "package": None})
        command = grpc_command(served, port=ports[location.name])
        running.start(
            f"grpc-{location.name}", start_script(command, **copy) if index == 0 else command
        )
        wait_for_grpc(ports[location.name], running)


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, rendered: RenderedInstance
) -> Iterator[Served]:
    """Code servers, webserver and daemon of the rendered instance on the prod cluster."""
    require_postgres()
    require_dagster()
    with running_cluster(STACK) as cluster:
        home = tmp_path_factory.mktemp("dagster-home")
        document, ports = _write_instance(home, cluster, rendered)
        web_port = free_port()
        workspace = str(home / "workspace.yaml")
        with processes(home) as running:
            _serve_locations(running, rendered.settings.code_locations, ports)
            started = time.monotonic()
            running.start("webserver", webserver_command(port=web_port, workspace=workspace))
            url = f"http://127.0.0.1:{web_port}"
            wait_for_http(f"{url}/server_info", running)
            startup = time.monotonic() - started
            daemon_started = time.monotonic()
            running.start("daemon", daemon_command(workspace=workspace))
            yield Served(
                home, cluster, rendered, document, running, url, startup, ports, daemon_started
            )


def _paths(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        found: dict[str, Any] = {}
        for key, inner in value.items():
            found.update(_paths(inner, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: value}


def _changed(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    flat_before, flat_after = _paths(before), _paths(after)
    changed = {
        path
        for path in flat_before.keys() | flat_after.keys()
        if flat_before.get(path) != flat_after.get(path)
    }
    return {p if not p.startswith("run_launcher") else "run_launcher" for p in changed}


def test_only_the_documented_substitutions_differ_from_the_render(served: Served) -> None:
    assert _changed(served.rendered.instance, served.served) <= SUBSTITUTED
    rendered = served.rendered.instance
    assert rendered["run_launcher"]["class"] == "K8sRunLauncher"
    params = rendered["storage"]["postgres"]["postgres_db"]["params"]
    assert (params["sslmode"], params["sslrootcert"]) == (
        "verify-full",
        "/run/dagster/postgres-ca.crt",
    )
    # Served as rendered but for the paths: libpq verified the test server's certificate.
    assert served.served["storage"]["postgres"]["postgres_db"]["params"]["sslmode"] == "verify-full"
    assert served.served["telemetry"] == {"enabled": False}


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
    queue = served.rendered.settings.run_queue
    assert result.stdout.split() == [
        "QueuedRunCoordinator",
        str(queue.max_concurrent_runs),
        str(len(queue.tag_concurrency_limits)),
    ]


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
    print(f"\nall daemons healthy {time.monotonic() - served.daemon_started:.1f} s after start")
    kinds = {s["daemonType"] for s in statuses}
    assert {"QUEUED_RUN_COORDINATOR", "MONITORING", "SCHEDULER", "SENSOR"} <= kinds
    instance = graphql(served.url, DAEMONS)["instance"]
    assert instance["runQueuingSupported"] is True
    queue = served.rendered.settings.run_queue
    assert instance["runQueueConfig"]["maxConcurrentRuns"] == queue.max_concurrent_runs
    assert "applyLimitPerUniqueValue" in instance["runQueueConfig"]["tagConcurrencyLimitsYaml"]


def test_the_rendered_probes_pass_on_the_running_servers(served: Served) -> None:
    """Readiness of every workload, as the component renders it, against the real servers
    (after the daemon test: `dagster-daemon liveness-check` needs its first heartbeats)."""
    probes = served.rendered.probes
    web_port = int(served.url.rsplit(":", 1)[1])
    checks = {"webserver": probe_on_loopback(probes["webserver"], port=3000, served_port=web_port)}
    checks["daemon"] = probes["daemon"]
    for location in served.rendered.settings.code_locations:
        command = probes[f"code-{location.name}"]
        checks[location.name] = probe_on_loopback(
            command, port=4000, served_port=served.grpc_ports[location.name]
        )
    for name, command in checks.items():
        done = subprocess.run(
            command,
            env=environment(served.home),
            cwd=served.home,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (name, command, done.stdout[-2000:], done.stderr[-2000:])
    assert set(checks) >= {"webserver", "daemon"} and len(checks) > 2


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
            "repositoryLocationName": served.rendered.settings.code_locations[0].name,
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
