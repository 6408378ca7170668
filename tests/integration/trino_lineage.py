"""Single-node Trino coordinators on loopback that run event listeners and extra catalogs.

They run the Trino server `scripts/install-trino.sh` unpacked (476: see docs/trino.md for
why not 483). The plugins this module needs beyond the installed ones (`openlineage`,
`kafka`, `kafka-event-listener`) come from the same server tarball in the local Maven
repository: `server_plugins` copies each plugin directory (its jars are hard links to
`lib/` and other plugins in the tarball) into a cache beside the server, once, in one
pass over the tarball.

Two ways to start one:

- `running_coordinator(render, plugins=...)`: `render(LoopbackPaths)` returns the files
  by container path (`/etc/trino/...`, `/etc/trino-catalog/...`), as the component
  renders them; the ONE place that adapts them to loopback is `localise` (container
  directories become the test directory) plus `COORDINATOR_OVERRIDES`-style property
  changes the caller passes in `overrides` (ports, discovery, plugin dir, memory).
- `running_lineage_trino(listener_file)`: the in-memory catalog and one OpenLineage
  listener file, no access control (kept for tests that prove only what the listener
  sends).

What always differs from a deployed coordinator: loopback ports, a 1 GiB heap, one node
that also runs the tasks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.trino.files import CATALOG_DIR, CONFIG_DIR, DATA_DIR
from components.trino.settings import TrinoSettings
from infra.config import with_tier_defaults
from ops.render import stack_file, stack_sections
from tests.integration.trino_server import (
    TRINO_HOME,
    TRINO_JAVA_HOME,
    Unavailable,
    check_available,
)

QUERY_MEMORY = "300MB"


def stack_settings(stack: str) -> TrinoSettings:
    """The stack's Trino settings as the program reads them (its file over tier defaults)."""
    raw = stack_sections(stack_file(stack))
    return TrinoSettings.model_validate(with_tier_defaults(raw)["trino"])


def server_plugins(*names: str) -> dict[str, Path]:
    """Each named plugin's directory in the installed server (scripts/install-trino.sh
    unpacks them all); `Unavailable` naming the missing ones otherwise."""
    check_available()
    found = {n: TRINO_HOME / "plugin" / n for n in names}
    missing = [n for n, path in found.items() if not path.is_dir()]
    if missing:
        raise Unavailable(f"Trino plugins {missing} are not in {TRINO_HOME} (install-trino.sh)")
    return found


def require_plugins(*names: str) -> None:
    """Skip the calling test when Trino or a plugin is missing, but fail under CI."""
    import pytest

    try:
        server_plugins(*names)
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide Trino (scripts/install-trino.sh): {reason}")
        pytest.skip(str(reason))


@dataclass(frozen=True)
class LoopbackPaths:
    """Where one loopback coordinator lives: its URI (`http://127.0.0.1:<port>`) and dirs."""

    uri: str
    port: int
    directory: Path

    @property
    def discovery_uri(self) -> str:
        """The coordinator's own URI (it is its only node)."""
        return self.uri


@dataclass
class LineageTrino:
    """A running coordinator: its URI (what `openlineage-event-listener.trino.uri` names)."""

    uri: str
    port: int
    log_file: Path
    startup_seconds: float
    directory: Path | None = None

    def connect(self, user: str = "etl", **session: Any) -> Any:
        """A DB-API connection as `user` (no password: these coordinators run without one)."""
        import trino

        return trino.dbapi.connect(host="127.0.0.1", port=self.port, user=user, **session)

    def query(self, user: str, sql: str) -> list[list[Any]]:
        """All rows of `sql` run as `user` (raises `trino.exceptions.TrinoUserError`)."""
        with contextlib.closing(self.connect(user)) as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return cursor.fetchall()

    def run(self, *statements: str) -> None:
        """Run each statement as user `etl` in `memory.default`, fetching all results."""
        conn = self.connect("etl", catalog="memory", schema="default")
        with contextlib.closing(conn):
            cursor = conn.cursor()
            for statement in statements:
                cursor.execute(statement)
                cursor.fetchall()


def localise(text: str, directory: Path) -> str:
    """Container paths in a rendered file mapped into `directory` (the ONE path change)."""
    for container, local in (
        (CATALOG_DIR, directory / "catalog"),
        (CONFIG_DIR, directory / "etc"),
        (DATA_DIR, directory / "data"),
    ):
        text = text.replace(container, str(local))
    return text


def loopback_config(paths: LoopbackPaths, plugin_dir: Path) -> dict[str, str]:
    """The `config.properties` changes every loopback coordinator needs."""
    return {
        "http-server.http.port": str(paths.port),
        "discovery.uri": paths.discovery_uri,
        "node-scheduler.include-coordinator": "true",
        "node.internal-address": "127.0.0.1",
        "plugin.dir": str(plugin_dir),
        "query.max-memory": QUERY_MEMORY,
        "query.max-memory-per-node": QUERY_MEMORY,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _info(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/info", timeout=2) as answer:
            return json.load(answer)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _override(text: str, changes: Mapping[str, str]) -> str:
    lines = [line for line in text.splitlines() if line.split("=", 1)[0] not in changes]
    return "\n".join([*lines, *(f"{k}={v}" for k, v in changes.items())]) + "\n"


@contextlib.contextmanager
def running_coordinator(
    render: Callable[[LoopbackPaths], Mapping[str, str]],
    *,
    plugins: Sequence[str],
    timeout: float = 180.0,
) -> Iterator[LineageTrino]:
    """Start a coordinator from `render(paths)` (files by container path; it must include
    `/etc/trino/config.properties`), localised and with `loopback_config` applied; stop it
    (SIGTERM, then SIGKILL) on exit."""
    found = server_plugins(*plugins)
    directory = Path(tempfile.mkdtemp(prefix="trino-events-"))
    port = _free_port()
    paths = LoopbackPaths(f"http://127.0.0.1:{port}", port, directory)
    plugin_dir = directory / "plugin"
    for path in (directory / "etc", directory / "catalog", plugin_dir, directory / "data"):
        path.mkdir(parents=True)
    for name, source in found.items():
        (plugin_dir / name).symlink_to(source)
    files = {
        localise(path, directory): localise(text, directory) for path, text in render(paths).items()
    }
    config = Path(localise(f"{CONFIG_DIR}/config.properties", directory))
    files[str(config)] = _override(files[str(config)], loopback_config(paths, plugin_dir))
    for path, text in files.items():
        Path(path).write_text(text)
    command = [
        str(TRINO_JAVA_HOME / "bin" / "java"),
        "-Xmx1G",
        "--add-modules=jdk.incubator.vector",
        "-XX:+EnableDynamicAgentLoading",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dnode.environment=loopback",
        "-Dnode.id=loopback",
        f"-Dnode.data-dir={directory / 'data'}",
        f"-Dconfig={config}",
        "-cp",
        str(TRINO_HOME / "lib" / "*"),
        "io.trino.server.TrinoServer",
    ]
    log_file = directory / "server.log"
    started = time.monotonic()
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=directory, start_new_session=True
        )
    try:
        deadline = started + timeout
        while (info := _info(port)) is None or info.get("starting", True):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-60:])
                raise AssertionError(f"Trino did not start (exit {process.returncode}):\n{tail}")
            time.sleep(0.5)
        yield LineageTrino(paths.uri, port, log_file, time.monotonic() - started, directory)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if os.environ.get("KEEP_TRINO") != "1":
            shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def running_lineage_trino(
    listener_file: Callable[[str], str], *, timeout: float = 180.0
) -> Iterator[LineageTrino]:
    """Start a coordinator whose listener file is `listener_file(trino_uri)` and whose only
    catalog is `memory` (no access control); stop it on exit."""
    listener = f"{CONFIG_DIR}/openlineage.properties"

    def render(paths: LoopbackPaths) -> dict[str, str]:
        return {
            listener: listener_file(paths.uri),
            f"{CATALOG_DIR}/memory.properties": "connector.name=memory\n",
            f"{CONFIG_DIR}/config.properties": (
                f"coordinator=true\ncatalog.config-dir={CATALOG_DIR}\n"
                f"event-listener.config-files={listener}\n"
            ),
        }

    with running_coordinator(render, plugins=("memory", "openlineage"), timeout=timeout) as trino:
        yield trino
