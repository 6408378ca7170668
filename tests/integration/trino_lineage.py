"""A single-node Trino coordinator whose only job is to emit query lineage.

It runs the Trino server `scripts/install-trino.sh` unpacked (476: see docs/trino.md for
why not 483) with the in-memory catalog and the OpenLineage event listener configured by
the file `components.marquez.files.trino_openlineage_file` renders, unchanged. The
listener's plugin comes from the same server tarball in the local Maven repository:
`install-trino.sh` keeps only the plugins the other tests need, so `openlineage_plugin`
copies `plugin/openlineage` (its jars are hard links to `lib/` and other plugins in the
tarball) into a cache beside the server, once.

What differs from a deployed coordinator, all here: loopback ports, a 1 GiB heap, no
authentication or access control (this server only proves what the listener sends), and
the memory catalog instead of the lake.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.trino_server import (
    TRINO_HOME,
    TRINO_JAVA_HOME,
    TRINO_VERSION,
    Unavailable,
    check_available,
)

MAVEN_REPO = Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2" / "repository"))
TARBALL = MAVEN_REPO / f"io/trino/trino-server/{TRINO_VERSION}/trino-server-{TRINO_VERSION}.tar.gz"
PLUGIN_CACHE = TRINO_HOME.parent / f"trino-{TRINO_VERSION}-openlineage"


def openlineage_plugin() -> Path:
    """The OpenLineage plugin directory: the server's own if installed, else a cached copy
    from the server tarball. Raises `Unavailable` when neither exists."""
    check_available()
    installed = TRINO_HOME / "plugin" / "openlineage"
    if installed.is_dir():
        return installed
    target = PLUGIN_CACHE / "openlineage"
    if target.is_dir():
        return target
    if not TARBALL.exists():
        raise Unavailable(f"no {TARBALL} to take the openlineage plugin from (install-trino.sh)")
    prefix = f"trino-server-{TRINO_VERSION}/plugin/openlineage/"
    staging = Path(tempfile.mkdtemp(prefix="openlineage-", dir=TRINO_HOME.parent))
    with tarfile.open(TARBALL) as archive:
        for member in archive:
            if not member.name.startswith(prefix) or not (member.isfile() or member.islnk()):
                continue
            source = archive.extractfile(member)  # a hard link reads as its target's bytes
            assert source is not None
            (staging / Path(member.name).name).write_bytes(source.read())
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    return target


@dataclass
class LineageTrino:
    """A running coordinator: its URI (what `openlineage-event-listener.trino.uri` names)."""

    uri: str
    port: int
    log_file: Path
    startup_seconds: float

    def run(self, *statements: str) -> None:
        """Run each statement as user `etl` in `memory.default`, fetching all results."""
        import trino

        conn = trino.dbapi.connect(
            host="127.0.0.1", port=self.port, user="etl", catalog="memory", schema="default"
        )
        with contextlib.closing(conn):
            cursor = conn.cursor()
            for statement in statements:
                cursor.execute(statement)
                cursor.fetchall()


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


@contextlib.contextmanager
def running_lineage_trino(
    listener_file: Callable[[str], str], *, timeout: float = 180.0
) -> Iterator[LineageTrino]:
    """Start a coordinator whose listener file is `listener_file(trino_uri)`; stop it on exit."""
    plugin = openlineage_plugin()
    directory = Path(tempfile.mkdtemp(prefix="trino-lineage-"))
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    etc, plugins = directory / "etc", directory / "plugin"
    for path in (etc / "catalog", plugins, directory / "data"):
        path.mkdir(parents=True)
    (plugins / "memory").symlink_to(TRINO_HOME / "plugin" / "memory")
    (plugins / "openlineage").symlink_to(plugin)
    (etc / "openlineage.properties").write_text(listener_file(uri))
    (etc / "catalog" / "memory.properties").write_text("connector.name=memory\n")
    (etc / "config.properties").write_text(
        "\n".join(
            [
                "coordinator=true",
                "node-scheduler.include-coordinator=true",
                f"http-server.http.port={port}",
                f"discovery.uri={uri}",
                f"plugin.dir={plugins}",
                f"catalog.config-dir={etc / 'catalog'}",
                f"event-listener.config-files={etc / 'openlineage.properties'}",
                "query.max-memory=300MB",
                "query.max-memory-per-node=300MB",
            ]
        )
        + "\n"
    )
    command = [
        str(TRINO_JAVA_HOME / "bin" / "java"),
        "-Xmx1G",
        "--add-modules=jdk.incubator.vector",
        "-XX:+EnableDynamicAgentLoading",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dnode.environment=lineage",
        "-Dnode.id=lineage",
        "-Dnode.internal-address=127.0.0.1",
        f"-Dnode.data-dir={directory / 'data'}",
        f"-Dconfig={etc / 'config.properties'}",
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
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-40:])
                raise AssertionError(f"Trino did not start (exit {process.returncode}):\n{tail}")
            time.sleep(0.5)
        yield LineageTrino(uri, port, log_file, time.monotonic() - started)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if os.environ.get("KEEP_TRINO") != "1":
            shutil.rmtree(directory, ignore_errors=True)
