"""A throwaway PostgreSQL cluster started with the component's own rendered settings.

Debian's `postgresql-15` + `postgresql-15-pgaudit` provide the binaries; nothing is
installed here. PostgreSQL refuses to run as root, so when the tests run as root the
server runs as the `postgres` OS user (`runuser -u postgres --`).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions

from components.contracts import DatabaseNeed, LoginNeed, Requirements
from components.postgres import PostgresSettings
from components.postgres import paths as container_paths
from components.postgres.consumers import effective_access
from components.postgres.plan import access_plan
from components.postgres.scram import scram_salt, scram_sha256_verifier
from components.postgres.scripts import admin_role_settings
from components.postgres.server_config import ServerPaths
from infra.services import enabled_settings, stack_requirements
from ops.render import load_stack_config

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_LIB = PG_BIN.parent / "lib"
OS_USER = "postgres"


class Unavailable(Exception):
    """PostgreSQL (or pgaudit, or a non-root user to run it) is not available here."""


PREPARED_CONSUMERS = (
    Requirements(consumer="dagster", databases=(DatabaseNeed(database="dagster"),)),
    Requirements(consumer="marquez", databases=(DatabaseNeed(database="marquez"),)),
    Requirements(
        consumer="redash",
        databases=(DatabaseNeed(database="redash"),),
        logins=(LoginNeed(login="redash_reader", member_of=("analyst",)),),
    ),
    Requirements(
        consumer="amundsen",
        databases=(DatabaseNeed(database="amundsen"),),
        logins=(LoginNeed(login="amundsen_crawler", member_of=("steward",)),),
    ),
)
"""Consumers whose components are not in the registry yet (issue 10) but whose real-server
tests already run: they need their database the way their component will declare it."""


def stack_postgres_settings(stack: str) -> PostgresSettings:
    """The stack's PostgreSQL settings exactly as the program validates them, with the
    access model the server serves: governance plus every consumer's requirements."""
    config = load_stack_config(stack)
    requirements = [*stack_requirements(enabled_settings(config)), *PREPARED_CONSUMERS]
    access = effective_access(config.postgres.access, requirements)
    return config.postgres.model_copy(update={"access": access})


@dataclass
class Cluster:
    """A running throwaway cluster and the passwords of the roles the plan created."""

    stack: str
    settings: PostgresSettings
    directory: Path
    port: int
    admin_password: str
    passwords: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"
    ca_file: Path | None = None
    """The server's certificate (self-signed: its own trust anchor) when TLS is on."""

    @property
    def log_file(self) -> Path:
        """The server log (stderr of the postmaster)."""
        return self.directory / "server.log"

    @property
    def tls(self) -> bool:
        """True when the stack's settings require TLS."""
        return self.settings.tls.required

    def ssl_params(self) -> dict[str, str]:
        """What every platform consumer uses: verify the server's certificate and host
        (`verify-full`) against its own certificate with TLS, else no TLS."""
        if not self.tls:
            return {"sslmode": "disable"}
        assert self.ca_file is not None
        return {"sslmode": "verify-full", "sslrootcert": str(self.ca_file)}

    def dsn(self, user: str, dbname: str, password: str | None = None, **extra: Any) -> str:
        """A libpq DSN for `user` on `dbname` over TCP (TLS verified as consumers do)."""
        parts = {
            "host": self.host,
            "port": self.port,
            "user": user,
            "dbname": dbname,
            "password": password if password is not None else self.password(user),
            **self.ssl_params(),
            "connect_timeout": 5,
            **extra,
        }
        return " ".join(f"{k}={v}" for k, v in parts.items())

    def verifiers(self) -> dict[str, str]:
        """Each login's SCRAM verifier, as the component computes it (salt seeded per role)."""
        return {
            login: scram_sha256_verifier(password, scram_salt(f"seed-{login}"))
            for login, password in self.passwords.items()
        }

    def password(self, user: str) -> str:
        """The password of the admin or of a login created by the plan."""
        return self.admin_password if user == self.settings.admin_user else self.passwords[user]

    def connect(self, user: str, dbname: str, **extra: Any) -> psycopg2.extensions.connection:
        """An autocommit connection as `user`."""
        conn = psycopg2.connect(self.dsn(user, dbname, **extra))
        conn.autocommit = True
        return conn

    def admin(self, dbname: str = "postgres") -> psycopg2.extensions.connection:
        """An autocommit connection as the superuser."""
        return self.connect(self.settings.admin_user, dbname)

    def log_text(self) -> str:
        """The server log so far."""
        return self.log_file.read_text(errors="replace")

    def wait_for_log(self, *needles: str, timeout: float = 10.0) -> str:
        """The first log line containing every needle (polls; the log is written async)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text().splitlines():
                if all(n in line for n in needles):
                    return line
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line with {needles!r} in {self.log_file}")
            time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runner() -> tuple[list[str], pwd.struct_passwd | None]:
    if os.geteuid() != 0:
        return [], None
    try:
        account = pwd.getpwnam(OS_USER)
    except KeyError as error:
        raise Unavailable(
            f"running as root and no {OS_USER!r} OS user to run PostgreSQL"
        ) from error
    return ["runuser", "-u", OS_USER, "--"], account


def check_available() -> None:
    """Raise `Unavailable` unless initdb, pg_ctl and pgaudit are installed."""
    for binary in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / binary).exists():
            raise Unavailable(f"{PG_BIN / binary} missing (apt-get install postgresql-15)")
    if not (PG_LIB / "pgaudit.so").exists():
        raise Unavailable(
            f"{PG_LIB / 'pgaudit.so'} missing (apt-get install postgresql-15-pgaudit)"
        )
    _runner()


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is missing, but fail under CI (`CI` set)."""
    import pytest

    try:
        check_available()
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide PostgreSQL with pgaudit: {reason}")
        pytest.skip(str(reason))


def _own(path: Path, account: pwd.struct_passwd | None, mode: int) -> None:
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)
    path.chmod(mode)


def _certificate(
    directory: Path, account: pwd.struct_passwd | None, *, name: str = "localhost"
) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for the loopback names (`name` and 127.0.0.1),
    made by openssl at test time with the extensions of the one components/tls.py
    generates (a leaf for server auth, not a CA): consumers verify it as their anchor."""
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-subj", f"/CN={name}", "-days", "1",
            "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:FALSE",
            "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
            "-addext", "extendedKeyUsage=serverAuth",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    _own(cert, account, 0o644)
    _own(key, account, 0o600)
    return cert, key


def self_signed_certificate(directory: Path, *, name: str = "localhost") -> Path:
    """Another throwaway certificate like the test server's (same names, other key): what
    an impostor answering in the server's place could present."""
    cert, _ = _certificate(directory, None, name=name)
    return cert


@contextlib.contextmanager
def running_cluster(stack: str, *, apply_plan: bool = True) -> Iterator[Cluster]:
    """Start a cluster with `stack`'s rendered settings and its access plan applied."""
    check_available()
    prefix, account = _runner()
    settings = stack_postgres_settings(stack)
    directory = Path(tempfile.mkdtemp(prefix=f"pg-{stack}-"))
    _own(directory, account, 0o700)
    data = directory / "data"
    admin_password = secrets.token_hex(16)
    password_file = directory / "superuser-password"
    password_file.write_text(admin_password + "\n")
    _own(password_file, account, 0o600)
    cert = key = None
    if settings.tls.required:
        cert, key = _certificate(directory, account)
    paths = ServerPaths(
        hba_file=str(directory / "pg_hba.conf"),
        socket_dir=str(directory),
        ssl_cert_file=str(cert) if cert else None,
        ssl_key_file=str(key) if key else None,
        port=_free_port(),
        listen_addresses="127.0.0.1",
    )
    conf = directory / "postgresql.conf"
    conf.write_text(settings.postgresql_conf(paths))
    (directory / "pg_hba.conf").write_text(settings.pg_hba_conf())
    for path in (conf, directory / "pg_hba.conf"):
        _own(path, account, 0o644)
    log = directory / "server.log"
    log.touch()
    _own(log, account, 0o644)

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=directory)

    # The same initdb flags as the container's start script (components/postgres/scripts.py).
    run(
        str(PG_BIN / "initdb"), "-D", str(data), f"--username={settings.admin_user}",
        f"--pwfile={password_file}", "--auth-local=peer", "--auth-host=scram-sha-256",
        "--encoding=UTF8", "--no-locale", "--data-checksums",
    )  # fmt: skip
    run(
        str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
        "-o", f"-c config_file={conf}", "start",
    )  # fmt: skip
    cluster = Cluster(
        stack=stack,
        settings=settings,
        directory=directory,
        port=paths.port,
        admin_password=admin_password,
        ca_file=cert,
    )
    try:
        apply_admin_role_settings(cluster)
        if apply_plan:
            apply_access_plan(cluster)
        yield cluster
    finally:
        subprocess.run(
            [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        if os.environ.get("KEEP_PG_CLUSTER") != "1":
            shutil.rmtree(directory, ignore_errors=True)


def apply_admin_role_settings(cluster: Cluster) -> None:
    """What the start script applies to the admin role in single-user mode before
    `exec postgres` (tests/integration/test_postgres_start_script.py runs the script)."""
    with contextlib.closing(cluster.admin()) as conn, conn.cursor() as cur:
        for statement in admin_role_settings(cluster.settings):
            cur.execute(statement)


def apply_access_plan(cluster: Cluster) -> None:
    """Apply the stack's access plan (the SQL twin of the declared resources): passwords
    travel as SCRAM verifiers, as the component declares them."""
    plan = access_plan(cluster.settings.access, admin=cluster.settings.admin_user)
    cluster.passwords = {login: secrets.token_hex(16) for login in plan.logins}
    for database, statements in plan.sql(cluster.verifiers()):
        with contextlib.closing(cluster.admin(database)) as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)


# ---------------------------------------------------------------------------------------
# The container's own start script, run on a local directory standing in for the volume.


def kubelet_fsgroup(volume: Path, fs_group: int) -> None:
    """Replay kubelet's fsGroup ownership change (fsGroupChangePolicy `Always`) on `volume`.

    On every mount kubelet walks the volume: group -> fsGroup, `g+rw` on everything,
    and on directories also `g+x` and setgid (pkg/volume/volume_linux.go).
    """
    for directory, _, names in os.walk(volume):
        for path in [directory, *(os.path.join(directory, n) for n in names)]:
            if os.path.islink(path):
                continue
            mode = os.lstat(path).st_mode & 0o7777
            os.chown(path, -1, fs_group)
            extra = 0o660 | (0o2110 if os.path.isdir(path) else 0)
            os.chmod(path, mode | extra)


@dataclass
class ContainerFiles:
    """Local stand-ins for the container's paths: the data volume, the config files, the
    secret volume (root-owned, fsGroup-readable 0440, as a projected Secret delivers
    them), and the socket tmpfs."""

    root: Path
    settings: PostgresSettings
    account: pwd.struct_passwd | None
    port: int = field(default_factory=_free_port)

    @property
    def volume(self) -> Path:
        """The data volume's mount point (PGDATA is a directory below it)."""
        return self.root / "volume"

    @property
    def pgdata(self) -> Path:
        """PGDATA on the volume."""
        return self.volume / "pgdata"

    @property
    def secrets(self) -> Path:
        """The secret volume."""
        return self.root / "secrets"

    @property
    def fs_group(self) -> int:
        """The group standing in for the pod's fsGroup (the server user's group)."""
        return self.account.pw_gid if self.account else os.getgid()

    def password(self) -> str:
        """The superuser password as the secret file holds it."""
        return (self.secrets / "superuser-password").read_text().strip()


def container_files(root: Path, settings: PostgresSettings) -> ContainerFiles:
    """Lay out `root` like the pod: secrets (with a throwaway certificate), rendered config."""
    _, account = _runner()
    files = ContainerFiles(root=root, settings=settings, account=account)
    root.chmod(0o755)
    for name in ("volume", "conf", "secrets", "run"):
        (root / name).mkdir()
    for name in ("conf", "run"):
        _own(root / name, account, 0o755)
    kubelet_fsgroup(files.volume, files.fs_group)  # the claim's first mount
    (files.secrets / "superuser-password").write_text(secrets.token_hex(16))
    if settings.tls.required:
        _certificate(files.secrets, None)
        (files.secrets / "server.crt").rename(files.secrets / "tls.crt")
        (files.secrets / "server.key").rename(files.secrets / "tls.key")
    for secret in files.secrets.iterdir():
        deliver_secret(files, secret)
    paths = ServerPaths(
        hba_file=str(root / "conf" / "pg_hba.conf"),
        socket_dir=str(root / "run"),
        ssl_cert_file=str(files.secrets / "tls.crt") if settings.tls.required else None,
        ssl_key_file=str(root / "run" / "tls.key") if settings.tls.required else None,
        port=files.port,
        listen_addresses="127.0.0.1",
    )
    (root / "conf" / "postgresql.conf").write_text(settings.postgresql_conf(paths))
    (root / "conf" / "pg_hba.conf").write_text(settings.pg_hba_conf())
    return files


def deliver_secret(files: ContainerFiles, path: Path) -> None:
    """A file as a projected Secret volume with fsGroup delivers it: root:fsGroup 0440."""
    if os.geteuid() == 0:
        os.chown(path, 0, files.fs_group)
    path.chmod(0o440)


def localised_start_script(files: ContainerFiles, script: str) -> str:
    """The component's start script with container paths replaced by `files`' local ones
    and the server binaries named by their Debian paths; nothing else changes."""
    required = {
        container_paths.SECRET_DIR: str(files.secrets),
        container_paths.CONFIG_DIR: str(files.root / "conf"),
        "initdb -D": f"{PG_BIN / 'initdb'} -D",
        "exec postgres ": f"exec {PG_BIN / 'postgres'} ",
    }
    for container, local in required.items():
        if container not in script:
            raise AssertionError(f"start script no longer contains {container!r}")
        script = script.replace(container, local)
    script = script.replace("postgres --single ", f"{PG_BIN / 'postgres'} --single ")
    return script.replace(container_paths.SOCKET_DIR, str(files.root / "run"))


@dataclass(frozen=True)
class StartResult:
    """What one run of the start script did."""

    ready: bool
    exit_code: int | None
    output: str
    pgdata_mode: int | None
    admin_log_min_error_statement: str | None = None


def run_start_script(files: ContainerFiles, script: str, *, timeout: float = 60.0) -> StartResult:
    """Run `script` as the server's user with the container's environment (PGDATA, HOME).

    Waits until the server accepts connections (then checks that the superuser can log
    in over TCP with the secret file's password, and stops it) or the script exits.
    """
    prefix, _ = _runner()
    log = files.root / "start.log"
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PGDATA": str(files.pgdata), "HOME": "/tmp"}
    with log.open("w") as out:
        process = subprocess.Popen(
            [*prefix, "sh", "-c", script], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + timeout
    ready = False
    while process.poll() is None and time.monotonic() < deadline:
        if "ready to accept connections" in log.read_text(errors="replace"):
            ready = True
            break
        time.sleep(0.2)
    admin_errors = None
    try:
        if ready:
            admin_errors = _check_login(files)
    finally:
        if process.poll() is None:
            pid = int((files.pgdata / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            process.wait(timeout)
    mode = files.pgdata.stat().st_mode & 0o7777 if files.pgdata.exists() else None
    code = None if ready else process.returncode
    return StartResult(ready, code, log.read_text(errors="replace"), mode, admin_errors)


def _check_login(files: ContainerFiles) -> str:
    """Log in as the superuser with the secret file's password (with TLS, verifying the
    server against its certificate as consumers do); the admin session's
    log_min_error_statement."""
    dsn = (
        f"host=127.0.0.1 port={files.port} user={files.settings.admin_user} dbname=postgres "
        f"password={files.password()} connect_timeout=5 "
        + (
            f"sslmode=verify-full sslrootcert={files.secrets / 'tls.crt'}"
            if files.settings.tls.required
            else "sslmode=disable"
        )
    )
    with contextlib.closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute("SHOW ssl")
        ssl = cur.fetchone()
        cur.execute("SHOW log_min_error_statement")
        admin_errors = cur.fetchone()
    assert ssl == ("on" if files.settings.tls.required else "off",)
    return str(admin_errors[0]) if admin_errors else ""
