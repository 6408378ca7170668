"""A single-node Trino coordinator on loopback, started from the component's own rendered files.

`scripts/install-trino.sh` puts the server in a cache outside the checkout (Trino 476,
the newest release Maven Central serves whole: see docs/trino.md). This module renders
the coordinator's `etc/` with the pure render functions of `components/trino/files.py` and
`components/trino/access.py` from the stack's validated config, then changes only what
cannot work on loopback, all in `loopback_overrides` (the one documented place):

- ports: free loopback ports instead of 8080/8443, `node.internal-address=127.0.0.1`,
  and a single node that schedules tasks on itself (no workers on loopback);
- hosts: the catalogs point at the test's PostgreSQL cluster and moto S3 server;
- paths: `/etc/trino`, `/etc/trino-catalog`, `/data/trino` and the S3 trust store in
  `/tmp` become the test directory, and `plugin.dir` the unpacked server's;
- TLS material and passwords: throwaway certificates (the coordinator's, and the S3
  server's, which goes into the trust store by the component's own start command), and a password file of PBKDF2
  hashes of generated passwords (the stack's file holds bcrypt hashes of passwords
  Pulumi generates, which do not exist here);
- size: 1 GiB heap and query memory to match (the machine has 2 cores), no
  `-agentpath` to the image's libjvmkill.

Everything else, access control, `rules.json`, the group file, catalog properties,
authentication over HTTPS, runs exactly as rendered.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from components.runtime.stack import StackSettings
from components.trino import (
    CATALOG_DIR,
    CONFIG_DIR,
    DATA_DIR,
    S3_CA_FILE,
    TRUSTSTORE,
    Login,
    TrinoSettings,
    render_access_control,
    render_coordinator_config,
    render_group_file,
    render_group_provider,
    render_jvm_config,
    render_lake_catalog,
    render_log_properties,
    render_node_properties,
    render_password_authenticator,
    render_rules_json,
    render_warehouse_catalog,
    trust_s3_command,
)
from components.trino.files import POSTGRES_CA_FILE

TRINO_VERSION = "476"
TRINO_HOME = Path(
    os.environ.get("TRINO_HOME", Path.home() / ".cache" / "dataplatform" / f"trino-{TRINO_VERSION}")
)
TRINO_JAVA_HOME = Path(os.environ.get("TRINO_JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"))
HEAP = "1G"
QUERY_MEMORY = "300MB"
PBKDF2_ITERATIONS = 1000


class Unavailable(Exception):
    """The Trino server or its Java runtime is not installed here."""


def check_available() -> None:
    """Raise `Unavailable` unless `scripts/install-trino.sh` ran and Java >= 24 is present."""
    if not (TRINO_HOME / "lib").is_dir():
        raise Unavailable(f"no Trino server in {TRINO_HOME}: run scripts/install-trino.sh")
    if not (TRINO_JAVA_HOME / "bin" / "java").exists():
        raise Unavailable(f"no Java runtime at {TRINO_JAVA_HOME} (set TRINO_JAVA_HOME)")


@dataclass(frozen=True, kw_only=True)
class Backends:
    """Where the catalogs' data lives on loopback, and the credentials to reach it."""

    warehouse_url: str
    warehouse: Login
    lake_url: str
    lake: Login
    s3_endpoint: str
    s3: Login
    warehouse_dir: str
    s3_ca: Path | None = None
    """The S3 server's certificate when it serves TLS (the stack's MinIO does outside dev)."""
    postgres_ca: Path | None = None
    """The PostgreSQL server's certificate when it requires TLS: the catalogs' JDBC URLs
    verify the server against it (placed where the rendered URLs name it, localised)."""


@dataclass
class TrinoServer:
    """A running coordinator, the passwords of the policy's users, and how to query it."""

    stack: str
    settings: TrinoSettings
    directory: Path
    https_port: int
    passwords: dict[str, str]
    certificate: Path
    process: subprocess.Popen[bytes] | None = None
    startup_seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def log_file(self) -> Path:
        """The server's stdout and stderr."""
        return self.directory / "server.log"

    def connect(self, user: str) -> Any:
        """A DB-API connection as `user`, over HTTPS with the user's password."""
        import requests
        import trino

        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the test's CA
        session.verify = str(self.certificate)
        return trino.dbapi.connect(
            http_session=session,
            host="127.0.0.1",
            port=self.https_port,
            user=user,
            http_scheme="https",
            auth=trino.auth.BasicAuthentication(user, self.passwords[user]),
            verify=str(self.certificate),
            request_timeout=120,
        )

    def info(self) -> dict[str, Any]:
        """`GET /v1/info` over HTTPS (public: version, environment, starting)."""
        import json
        import ssl

        context = ssl.create_default_context(cafile=str(self.certificate))
        url = f"https://127.0.0.1:{self.https_port}/v1/info"
        with urllib.request.urlopen(url, context=context, timeout=10) as response:
            return json.loads(response.read())

    def query(self, user: str, sql: str) -> list[list[Any]]:
        """All rows of `sql` run as `user` (raises `trino.exceptions.TrinoUserError`)."""
        with contextlib.closing(self.connect(user)) as conn:
            cursor = conn.cursor()
            cursor.execute(sql)
            return cursor.fetchall()


# --- the one place that adapts the rendered files to loopback ------------------------


def loopback_overrides(*, http_port: int, https_port: int) -> dict[str, dict[str, str | None]]:
    """Per rendered file, the properties changed for loopback (None removes a property)."""
    return {
        "config.properties": {
            "http-server.http.port": str(http_port),
            "http-server.https.port": str(https_port),
            "discovery.uri": f"http://127.0.0.1:{http_port}",
            "node.internal-address": "127.0.0.1",
            # one node: the coordinator also runs the tasks (prod's workers are not here)
            "node-scheduler.include-coordinator": "true",
            "plugin.dir": str(TRINO_HOME / "plugin"),
            "query.max-memory": QUERY_MEMORY,
            "query.max-memory-per-node": QUERY_MEMORY,
        },
        "node.properties": {"node.id": "loopback-coordinator"},
    }


def _localise(text: str, directory: Path) -> str:
    """The container paths of the rendered files, mapped into `directory`."""
    for container, local in (
        (TRUSTSTORE, directory / "s3-truststore.jks"),
        (CATALOG_DIR, directory / "catalog"),
        (CONFIG_DIR, directory / "etc"),
        (DATA_DIR, directory / "data"),
    ):
        text = text.replace(container, str(local))
    return text


def _override_properties(text: str, changes: dict[str, str | None]) -> str:
    lines = [line for line in text.splitlines() if line.split("=", 1)[0] not in changes]
    lines += [f"{key}={value}" for key, value in changes.items() if value is not None]
    return "\n".join(lines) + "\n"


def _loopback_jvm_config(rendered: str) -> list[str]:
    options = []
    for option in rendered.splitlines():
        if option.startswith("-agentpath:"):
            continue  # the image's libjvmkill is not here
        if option.startswith("-Xmx"):
            option = f"-Xmx{HEAP}"
        options.append(option)
    return options


def pbkdf2_entry(user: str, password: str) -> str:
    """A password-file line Trino's file authenticator accepts (PBKDF2WithHmacSHA1, hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha1", password.encode(), salt, PBKDF2_ITERATIONS, 32)
    return f"{user}:{PBKDF2_ITERATIONS}:{salt.hex()}:{digest.hex()}\n"


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway key and certificate for 127.0.0.1: the PEM keystore and the CA file."""
    key_pem, cert_pem = self_signed_pem()
    keystore = directory / "etc" / "server.pem"
    keystore.write_bytes(key_pem + cert_pem)
    ca = directory / "ca.pem"
    ca.write_bytes(cert_pem)
    return keystore, ca


def self_signed_pem() -> tuple[bytes, bytes]:
    """A throwaway key and self-signed CA certificate for 127.0.0.1 (PEM key, PEM cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert_pem


def render_etc(
    stack: StackSettings,
    settings: TrinoSettings,
    backends: Backends,
    directory: Path,
    *,
    http_port: int,
    https_port: int,
    passwords: dict[str, str],
) -> tuple[dict[str, str], list[str]]:
    """The coordinator's files (relative path -> content) and JVM options, for loopback."""
    rendered = {
        "etc/config.properties": render_coordinator_config(
            settings,
            discovery_uri="http://coordinator:8080",
            shared_secret=secrets.token_urlsafe(48),
        ),
        "etc/node.properties": render_node_properties(stack),
        "etc/log.properties": render_log_properties(settings.log_level),
        "etc/access-control.properties": render_access_control(settings),
        "etc/rules.json": render_rules_json(settings.access),
        "etc/group-provider.properties": render_group_provider(),
        "etc/group.txt": render_group_file(settings.access),
        "etc/password-authenticator.properties": render_password_authenticator(),
        "etc/password.db": "".join(pbkdf2_entry(u, p) for u, p in passwords.items()),
        "catalog/lake.properties": render_lake_catalog(
            jdbc_url=backends.lake_url,
            jdbc=backends.lake,
            s3_endpoint=backends.s3_endpoint,
            s3=backends.s3,
            path_style=True,
            warehouse_dir=backends.warehouse_dir,
            region=settings.s3_region,
        ),
        "catalog/warehouse.properties": render_warehouse_catalog(
            jdbc_url=backends.warehouse_url, jdbc=backends.warehouse
        ),
    }
    overrides = loopback_overrides(http_port=http_port, https_port=https_port)
    files: dict[str, str] = {}
    for path, content in rendered.items():
        content = _localise(content, directory)
        changes = overrides.get(Path(path).name)
        if changes:
            content = _override_properties(content, changes)
        files[path] = content
    trust_s3 = backends.s3_ca is not None
    jvm = [
        _localise(option, directory)
        for option in _loopback_jvm_config(
            render_jvm_config(settings.coordinator, trust_s3=trust_s3)
        )
    ]
    return files, jvm


def build_s3_truststore(directory: Path, ca: Path) -> None:
    """Run the component's trust-store command (paths localised) with the tests' JDK."""
    (directory / "etc" / Path(S3_CA_FILE).name).write_bytes(ca.read_bytes())
    environment = {**os.environ, "PATH": f"{TRINO_JAVA_HOME / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(
        ["/bin/sh", "-c", "set -eu; " + _localise(trust_s3_command(), directory)],
        check=True,
        env=environment,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _wait_started(server: TrinoServer, http_port: int, timeout: float) -> None:
    """Until `/v1/info` says `"starting": false` (the image's health check does the same)."""
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{http_port}/v1/info"
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"Trino exited with {server.process.returncode}:\n{_tail(server.log_file)}"
            )
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as response,
        ):
            if re.search(rb'"starting"\s*:\s*false', response.read()):
                return
        time.sleep(0.5)
    raise RuntimeError(f"Trino did not start within {timeout:.0f} s:\n{_tail(server.log_file)}")


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_trino(
    stack_name: str,
    stack: StackSettings,
    settings: TrinoSettings,
    backends: Backends,
    *,
    timeout: float = 240.0,
) -> Iterator[TrinoServer]:
    """Start a coordinator from the stack's rendered files; stop it (SIGTERM) on exit."""
    check_available()
    directory = Path(tempfile.mkdtemp(prefix=f"trino-{stack_name}-"))
    for sub in ("etc", "catalog", "data"):
        (directory / sub).mkdir()
    http_port, https_port = _free_port(), _free_port()
    passwords = {user: secrets.token_hex(12) for user in settings.access.users}
    files, jvm = render_etc(
        stack,
        settings,
        backends,
        directory,
        http_port=http_port,
        https_port=https_port,
        passwords=passwords,
    )
    for path, content in files.items():
        (directory / path).write_text(content)
    keystore, ca = _certificate(directory)
    if backends.postgres_ca is not None:
        (directory / "etc" / Path(POSTGRES_CA_FILE).name).write_bytes(
            backends.postgres_ca.read_bytes()
        )
    if backends.s3_ca is not None:
        build_s3_truststore(directory, backends.s3_ca)
    server = TrinoServer(
        stack=stack_name,
        settings=settings,
        directory=directory,
        https_port=https_port,
        passwords=passwords,
        certificate=ca,
        files=files,
    )
    node = _properties(files["etc/node.properties"])
    command = [
        str(TRINO_JAVA_HOME / "bin" / "java"),
        *jvm,
        *(f"-D{key}={value}" for key, value in node.items()),
        f"-Dconfig={directory / 'etc' / 'config.properties'}",
        f"-Dlog.levels-file={directory / 'etc' / 'log.properties'}",
        "-cp",
        str(TRINO_HOME / "lib" / "*"),
        "io.trino.server.TrinoServer",
    ]
    assert keystore.exists()
    started = time.monotonic()
    with open(server.log_file, "wb") as log:
        server.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=directory, start_new_session=True
        )
    try:
        _wait_started(server, http_port, timeout)
        server.startup_seconds = time.monotonic() - started
        yield server
    finally:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)
        if os.environ.get("KEEP_TRINO") != "1":
            shutil.rmtree(directory, ignore_errors=True)
