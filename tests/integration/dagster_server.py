"""Start and stop a real Dagster (webserver, daemon, one gRPC code server) for the tests.

Dagster runs from its own venv (scripts/install-dagster.sh; `DAGSTER_VENV` overrides the
path), never from the project's. The instance is a local `DAGSTER_HOME` holding the
component's rendered `dagster.yaml` and `workspace.yaml`; the processes are the component's
rendered commands, run through its start script (which copies the password file).

The one substitution: `without_engine` swaps the target's run launcher for Dagster's
`DefaultRunLauncher` (runs as subprocesses of the code server), because there is no Docker
engine or Kubernetes API here to launch run containers or Jobs. Everything else in
`dagster.yaml` is served as rendered.
"""

from __future__ import annotations

import contextlib
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

from components.dagster.settings import DAGSTER_VERSION

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
    (the only substitution the tests make; see the module docstring)."""
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
