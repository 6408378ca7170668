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
import tarfile
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
    TRINO_VERSION,
    Unavailable,
    check_available,
)

MAVEN_REPO = Path(os.environ.get("MAVEN_REPO_LOCAL", Path.home() / ".m2" / "repository"))
TARBALL = MAVEN_REPO / f"io/trino/trino-server/{TRINO_VERSION}/trino-server-{TRINO_VERSION}.tar.gz"
PLUGIN_CACHE = TRINO_HOME.parent / f"trino-{TRINO_VERSION}-openlineage"
"""Where plugins taken from the tarball are kept (the name predates the Kafka plugins)."""
QUERY_MEMORY = "300MB"


def stack_settings(stack: str) -> TrinoSettings:
    """The stack's Trino settings as the program reads them (its file over tier defaults)."""
    raw = stack_sections(stack_file(stack))
    return TrinoSettings.model_validate(with_tier_defaults(raw)["trino"])


def server_plugins(*names: str) -> dict[str, Path]:
    """Each named plugin's directory: the installed server's own, else a cached copy from
    the server tarball (all missing ones in one pass). `Unavailable` when neither exists."""
    check_available()
    found = {n: TRINO_HOME / "plugin" / n for n in names if (TRINO_HOME / "plugin" / n).is_dir()}
    found |= {n: PLUGIN_CACHE / n for n in names if (PLUGIN_CACHE / n).is_dir() and n not in found}
    missing = [n for n in names if n not in found]
    if not missing:
        return found
    if not TARBALL.exists():
        raise Unavailable(f"no {TARBALL} to take plugins {missing} from (install-trino.sh)")
    prefixes = {f"trino-server-{TRINO_VERSION}/plugin/{n}/": n for n in missing}
    staging = Path(tempfile.mkdtemp(prefix="plugins-", dir=TRINO_HOME.parent))
    with tarfile.open(TARBALL) as archive:
        for member in archive:
            prefix = next((p for p in prefixes if member.name.startswith(p)), None)
            if prefix is None or not (member.isfile() or member.islnk()):
                continue
            source = archive.extractfile(member)  # a hard link reads as its target's bytes
            assert source is not None
            target = staging / prefixes[prefix] / member.name[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read())
    PLUGIN_CACHE.mkdir(parents=True, exist_ok=True)
    for name in missing:
        (staging / name).rename(PLUGIN_CACHE / name)
        found[name] = PLUGIN_CACHE / name
    shutil.rmtree(staging, ignore_errors=True)
    return found


def openlineage_plugin() -> Path:
    """The OpenLineage plugin directory (see `server_plugins`)."""
    return server_plugins("openlineage")["openlineage"]


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
