"""The rendered `DockerRunLauncher` block driven by the real dagster-docker and docker-py.

The block is the dev stack's, as the component renders it (`rendered_instance("dev")`).

There is no Docker engine here, so the launcher talks to a stand-in engine on loopback
that answers the few calls a launch needs and refuses (403, like the socket proxy) all
others. The launcher launches, health-checks and terminates one run; the test then checks
that every request it made passes the socket proxy's allowlist (`socket_proxy_args`), that
the rendered `container_kwargs` are accepted by docker-py, and what the engine was asked to
create: a confined container.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.dagster.files import socket_proxy_args
from tests.integration.dagster_server import rendered_instance, require_dagster, venv_python

pytestmark = pytest.mark.integration

STACK = "dev"
RUN_IMAGE = "ghcr.io/acme-data/pipelines:1.4.2"

DRIVE = r"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

requests, bodies = [], {}
ANSWERS = {
    ("GET", r"/version"): (200, {"ApiVersion": "1.47", "Version": "27.5.1", "MinAPIVersion": "1.24"}),
    ("POST", r"/v1.47/containers/create"): (201, {"Id": "3f2a9c", "Warnings": []}),
    ("GET", r"/v1.47/containers/3f2a9c/json"): (200, {"Id": "3f2a9c", "Name": "/run",
        "State": {"Status": "running", "Running": True}, "Config": {}}),
    ("POST", r"/v1.47/containers/3f2a9c/start"): (204, None),
    ("POST", r"/v1.47/containers/3f2a9c/stop"): (204, None),
}

class Engine(BaseHTTPRequestHandler):
    def _answer(self):
        path = self.path.split("?")[0]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        requests.append((self.command, path))
        if body:
            bodies[path] = json.loads(body)
        status, payload = ANSWERS.get((self.command, path), (403, {"message": "forbidden"}))
        data = json.dumps(payload).encode() if payload is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Engine)
threading.Thread(target=server.serve_forever, daemon=True).start()
import os
os.environ["DOCKER_HOST"] = f"tcp://127.0.0.1:{server.server_address[1]}"

from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.storage.dagster_run import DagsterRun
from dagster_docker import DockerRunLauncher

block = json.loads(sys.argv[1])
checked = process_config(DockerRunLauncher.config_type(), block["config"])
assert checked.success, [e.message for e in checked.errors]
instance = DagsterInstance.ephemeral()
launcher = DockerRunLauncher(**checked.value)
launcher.register_instance(instance)
run = DagsterRun(job_name="smoke_job", run_id="0" * 32)
instance.add_run(run)
launcher._launch_container_with_command(run, "ghcr.io/acme-data/pipelines:1.4.2",
                                        ["dagster", "api", "execute_run", "{}"])
health = launcher.check_run_worker_health(instance.get_run_by_id(run.run_id))
terminated = launcher.terminate(run.run_id)
print(json.dumps({"requests": requests, "bodies": bodies,
                  "health": str(health.status), "terminated": terminated}))
"""


def _allowed(method: str, path: str) -> bool:
    rules = [
        arg.split("=", 1)
        for arg in socket_proxy_args(allow_from="dagster-daemon")
        if re.match(r"^-allow[A-Z]+=", arg)
    ]
    return any(flag == f"-allow{method}" and re.fullmatch(rx, path) for flag, rx in rules)


@pytest.fixture(scope="module")
def driven(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the rendered launcher asked the stand-in engine for."""
    require_dagster()
    home = tmp_path_factory.mktemp("dagster-docker-home")
    block = rendered_instance(STACK).instance["run_launcher"]
    assert block["class"] == "DockerRunLauncher"
    result = venv_python(home, DRIVE.replace("sys.argv[1]", repr(json.dumps(block))))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_launch_monitor_and_terminate_pass_the_socket_proxy(driven: dict[str, Any]) -> None:
    requests = [tuple(r) for r in driven["requests"]]
    assert ("POST", "/v1.47/containers/create") in requests
    assert ("POST", "/v1.47/containers/3f2a9c/start") in requests
    assert ("POST", "/v1.47/containers/3f2a9c/stop") in requests
    assert driven["health"].endswith("RUNNING")
    assert driven["terminated"] is True
    refused = [r for r in requests if not _allowed(*r)]
    assert refused == [], f"the socket proxy would refuse {refused}"


def test_the_run_container_is_confined(driven: dict[str, Any]) -> None:
    create = driven["bodies"]["/v1.47/containers/create"]
    host = create["HostConfig"]
    assert create["User"] == "10001:10001"
    assert create["Image"] == RUN_IMAGE
    assert create["Labels"]["app.kubernetes.io/component"] == "run"
    assert not host.get("Privileged")
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["ReadonlyRootfs"] is True
    assert host["Binds"] == ["dp-dev-dagster-daemon-run-secrets:/run/dagster:ro"]
    assert host["NetworkMode"] == "dp-dev-net"
    assert host["Memory"] == 2 * 2**30
    env = dict(variable.split("=", 1) for variable in create.get("Env", []))
    assert not any("PASSWORD" in name for name in env)
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == "/run/dagster/aws-credentials"
    assert env["OPENLINEAGE_NAMESPACE"] == "dataplatform-dev"


def test_a_typo_in_the_docker_block_is_refused(tmp_path: Path) -> None:
    require_dagster()
    script = (
        "from dagster._config import process_config\n"
        "from dagster_docker import DockerRunLauncher\n"
        "r = process_config(DockerRunLauncher.config_type(), {'netwrok': 'dp-dev'})\n"
        "print(r.success, [e.message for e in r.errors])\n"
    )
    result = venv_python(tmp_path, script)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("False") and "netwrok" in result.stdout
