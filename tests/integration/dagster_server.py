"""Start and stop a real Dagster (webserver, daemon, gRPC code servers) for the tests.

Dagster runs from its own venv (scripts/install-dagster.sh; `DAGSTER_VENV` overrides the
path), never from the project's. The instance is a local `DAGSTER_HOME` holding the
`dagster.yaml` and `workspace.yaml` the COMPONENT renders for a stack (`rendered_instance`:
read from the offline render of the real stack file, exactly what the daemon's and the
webserver's ConfigMap or files volume carry); the processes are the component's commands,
run through its start script (which copies the password file).

Loopback substitutions, all of them, in this one place (`on_loopback`, `without_engine`,
`with_kubeconfig`), because nothing here runs inside a cluster or a Docker network:
- storage: the PostgreSQL host becomes `localhost` and its port the throwaway cluster's;
  the libpq `passfile` moves from `/run/dagster/pgpass` into the test's home, and so does
  the `sslrootcert` copy (`/run/dagster/postgres-ca.crt`: it then holds the test server's
  certificate, as the pods' holds the server's), so libpq verifies the test server;
- the local artifact storage's scratch directory moves into the test's home;
- workspace: each code location's server host becomes 127.0.0.1, with a free port each,
  and the rendered probes check those ports (`probe_on_loopback`);
- the run launcher becomes Dagster's `DefaultRunLauncher` (runs as subprocesses of the
  code server), because there is no Docker engine or Kubernetes API here to launch run
  containers or Jobs (`without_engine`); the rendered launcher blocks are loaded on their
  own, the Kubernetes one with a dummy kubeconfig instead of in-cluster config
  (`with_kubeconfig`).
Everything else (coordinator, limits, monitoring, retention, telemetry, sslmode) is
served as rendered.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.dagster.settings import DAGSTER_VERSION, DagsterSettings

VENV = Path(
    os.environ.get(
        "DAGSTER_VENV", Path.home() / ".cache" / "dataplatform" / f"dagster-{DAGSTER_VERSION}"
    )
)
USER_CODE_DIR = Path(__file__).parent
USER_CODE_MODULE = "dagster_user_code"


class Unavailable(Exception):
    """Dagster's venv is not installed here."""


def check_available() -> None:
    """Raise `Unavailable` unless the pinned Dagster executables are installed."""
    for name in ("dagster", "dagster-webserver", "dagster-daemon", "python"):
        if not (VENV / "bin" / name).exists():
            raise Unavailable(f"{VENV / 'bin' / name} missing (run scripts/install-dagster.sh)")


def require_dagster() -> None:
    """Skip the calling test when Dagster is missing, but fail under CI (`CI` set)."""
    import pytest

    try:
        check_available()
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Dagster {DAGSTER_VERSION}: {reason}")
        pytest.skip(str(reason))


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def without_engine(document: Mapping[str, Any]) -> dict[str, Any]:
    """The rendered `dagster.yaml` mapping with the run launcher replaced by the default one
    (a loopback substitution; see the module docstring)."""
    local = dict(document)
    local["run_launcher"] = {
        "module": "dagster._core.launcher.default_run_launcher",
        "class": "DefaultRunLauncher",
    }
    return local


def environment(home: Path) -> dict[str, str]:
    """The processes' environment: Dagster's venv first on PATH, the instance, the user code."""
    return {
        "PATH": f"{VENV / 'bin'}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": str(USER_CODE_DIR),
        "LANG": "C.UTF-8",
    }


def dagster_cli(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `dagster ARGS...` against the instance in `home`."""
    return subprocess.run(
        [str(VENV / "bin" / "dagster"), *args],
        env=environment(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def venv_python(
    home: Path, script: str, *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a Python `script` in Dagster's venv against the instance in `home`."""
    return subprocess.run(
        [str(VENV / "bin" / "python"), "-c", script],
        env=environment(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Processes:
    """Started processes by role, with their log files."""

    home: Path
    started: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, role: str, command: Sequence[str]) -> None:
        """Start `command` in its own process group, logging to `<home>/<role>.log`."""
        with (self.home / f"{role}.log").open("wb") as log:
            self.started[role] = subprocess.Popen(
                list(command),
                env=environment(self.home),
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self, role: str) -> str:
        """What `role` logged so far."""
        return (self.home / f"{role}.log").read_text(errors="replace")

    def check_alive(self) -> None:
        """Raise AssertionError with the log of any process that exited."""
        for role, process in self.started.items():
            if process.poll() is not None:
                tail = self.log(role)[-3000:]
                raise AssertionError(f"{role} exited with {process.returncode}:\n{tail}")

    def stop(self) -> None:
        """SIGTERM every process group, then SIGKILL what is left after 20 s."""
        for process in self.started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@contextlib.contextmanager
def processes(home: Path) -> Iterator[Processes]:
    """Processes started in the block, stopped (whole process groups) when it ends."""
    running = Processes(home)
    try:
        yield running
    finally:
        running.stop()


def wait_for_http(url: str, processes: Processes, *, timeout: float = 120) -> float:
    """Poll `url` until it answers 200; the seconds it took. Fails early if a process died."""
    start = time.monotonic()
    while True:
        processes.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{url} did not answer within {timeout} s")
        time.sleep(1)


def wait_for_grpc(port: int, processes: Processes, *, timeout: float = 120) -> float:
    """Poll `dagster api grpc-health-check` (the code servers' probe) until it passes."""
    start = time.monotonic()
    while True:
        processes.check_alive()
        check = dagster_cli(processes.home, "api", "grpc-health-check", "--port", str(port))
        if check.returncode == 0:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"gRPC server on {port} not healthy within {timeout} s")
        time.sleep(1)


def graphql(base_url: str, query: str, variables: Mapping[str, Any] | None = None) -> Any:
    """POST a GraphQL query to the webserver; the `data` member (errors raise)."""
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(
        f"{base_url}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise AssertionError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


@dataclass(frozen=True)
class RenderedInstance:
    """What the component renders for one stack: `dagster.yaml` and `workspace.yaml` (as
    parsed mappings) and the stack's validated Dagster settings."""

    stack: str
    instance: dict[str, Any]
    workspace: dict[str, Any]
    settings: DagsterSettings
    probes: dict[str, list[str]]
    """Readiness command of each workload (`webserver`, `daemon`, `code-<name>`)."""


def rendered_instance(stack: str) -> RenderedInstance:
    """The component's files for `stack`, from the offline render of its stack file.

    Kubernetes stacks carry them in the daemon's and the webserver's ConfigMaps, Docker in
    their files volumes; both processes must get the very same two files (asserted here).
    """
    from ops.render import kubernetes_objects, load_stack_config, render_stack
    from tests.conftest import docker_files

    render = render_stack(stack)
    settings = load_stack_config(stack).dagster
    assert settings is not None, f"stack {stack} runs no Dagster"
    copies: list[tuple[str, str]] = []
    for role in ("daemon", "webserver"):
        maps = [
            o["data"]
            for o in kubernetes_objects(render)
            if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"dagster-{role}-config"
        ]
        if maps:
            copies.append(
                (maps[0]["opt-dagster-dagster_home-dagster.yaml"], maps[0][WORKSPACE_KEY])
            )
        else:
            files = docker_files(render, f"dp-{stack}-dagster-{role}")
            copies.append((files[INSTANCE_FILE], files[WORKSPACE_FILE]))
    assert copies[0] == copies[1], "the webserver and the daemon must share both files"
    instance, workspace = copies[0]
    return RenderedInstance(
        stack=stack,
        instance=yaml.safe_load(instance),
        workspace=yaml.safe_load(workspace),
        settings=settings,
        probes=_readiness_commands(render, stack),
    )


def _readiness_commands(render: Any, stack: str) -> dict[str, list[str]]:
    """Each Dagster workload's readiness check as rendered: the exec probe of its
    Deployment (Kubernetes) or its container's healthcheck (Docker)."""
    from ops.render import kubernetes_objects

    found: dict[str, list[str]] = {}
    for obj in kubernetes_objects(render):
        name = obj["metadata"]["name"]
        if obj["kind"] == "Deployment" and name.startswith("dagster-"):
            probe = obj["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
            found[name.removeprefix("dagster-")] = probe["exec"]["command"]
    for container in render.of_type("docker:index/container:Container"):
        prefix = f"dp-{stack}-dagster-"
        health = container["inputs"].get("healthcheck")
        if container["name"].startswith(prefix) and health:
            found[container["name"].removeprefix(prefix)] = health["tests"][1:]
    return found


INSTANCE_FILE = "/opt/dagster/dagster_home/dagster.yaml"
WORKSPACE_FILE = "/opt/dagster/workspace/workspace.yaml"
WORKSPACE_KEY = "opt-dagster-workspace-workspace.yaml"


@dataclass(frozen=True)
class Loopback:
    """Where the test serves what the stack serves in its network (see `on_loopback`)."""

    postgres_port: int
    passfile: Path
    scratch_dir: Path
    grpc_ports: Mapping[str, int]
    postgres_ca: Path | None = None
    """Where the server's certificate is (the rendered `sslrootcert`'s stand-in)."""


def on_loopback(
    rendered: RenderedInstance, loopback: Loopback
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`dagster.yaml` and `workspace.yaml` with the loopback substitutions of the module
    docstring (the run launcher is replaced separately, by `without_engine`)."""
    instance = copy.deepcopy(rendered.instance)
    database = instance["storage"]["postgres"]["postgres_db"]
    database["hostname"] = "localhost"
    database["port"] = loopback.postgres_port
    database["params"]["passfile"] = str(loopback.passfile)
    if "sslrootcert" in database["params"]:
        if loopback.postgres_ca is None:
            raise ValueError("the rendered instance verifies the server: give its certificate")
        database["params"]["sslrootcert"] = str(loopback.postgres_ca)
    instance["local_artifact_storage"]["config"]["base_dir"] = str(loopback.scratch_dir / "storage")
    workspace = copy.deepcopy(rendered.workspace)
    for entry in workspace["load_from"]:
        server = entry["grpc_server"]
        server["host"] = "127.0.0.1"
        server["port"] = loopback.grpc_ports[server["location_name"]]
    return instance, workspace


def probe_on_loopback(command: list[str], *, port: int, served_port: int) -> list[str]:
    """A rendered probe command checking `served_port` where the pod checks `port` (a
    loopback substitution; see the module docstring)."""
    return [
        arg.replace(f":{port}/", f":{served_port}/") if arg != str(port) else str(served_port)
        for arg in command
    ]


def with_kubeconfig(document: Mapping[str, Any], kubeconfig: Path) -> dict[str, Any]:
    """The rendered `K8sRunLauncher` block told to use `kubeconfig` instead of in-cluster
    config (a loopback substitution; see the module docstring)."""
    local = copy.deepcopy(dict(document))
    config = local["run_launcher"]["config"]
    config["load_incluster_config"] = False
    config["kubeconfig_file"] = str(kubeconfig)
    return local
