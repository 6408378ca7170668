"""Post-deploy checks of a PostgreSQL server (pytest-testinfra), against a live host.

Point it at a deployed server with environment variables:
    PG_ADMIN_DSN   libpq DSN of the admin (superuser) connection, e.g.
                   "host=127.0.0.1 port=15432 user=postgres dbname=postgres sslmode=require"
                   (the password from PGPASSWORD or ~/.pgpass, never on the command line)
    PG_HOST        address whose port must be listening (default: the DSN's host)
    PG_PORT        port (default: the DSN's port)
    TESTINFRA_HOST testinfra backend of the machine to inspect (default "local://";
                   e.g. "ssh://db-host" or "docker://dp-dev-postgres-server")
    PG_EXPECT_TLS  "1" when the server must have ssl=on (test and prod)
Without PG_ADMIN_DSN the suite starts the local throwaway server with the dev stack's
settings (tests/integration/pg_cluster.py), which is how CI runs it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import testinfra

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Target:
    """The server under test: where it listens, how to reach it as admin, on which host."""

    host: str
    port: int
    admin_dsn: str
    admin_user: str
    expect_tls: bool
    backend: str


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """The live server named by the environment, or a local one started for CI."""
    dsn = os.environ.get("PG_ADMIN_DSN")
    if dsn:
        params = psycopg2.extensions.parse_dsn(dsn)
        yield Target(
            host=os.environ.get("PG_HOST") or params.get("host") or "127.0.0.1",
            port=int(os.environ.get("PG_PORT") or params.get("port") or "5432"),
            admin_dsn=dsn,
            admin_user=params.get("user") or "postgres",
            expect_tls=os.environ.get("PG_EXPECT_TLS") == "1",
            backend=os.environ.get("TESTINFRA_HOST", "local://"),
        )
        return
    from tests.integration.pg_cluster import Unavailable, running_cluster

    try:
        cluster_cm = running_cluster("dev")
        cluster = cluster_cm.__enter__()
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide PostgreSQL with pgaudit: {reason}")
        pytest.skip(str(reason))
    try:
        yield Target(
            host=cluster.host,
            port=cluster.port,
            admin_dsn=cluster.dsn(cluster.settings.admin_user, "postgres"),
            admin_user=cluster.settings.admin_user,
            expect_tls=cluster.tls,
            backend="local://",
        )
    finally:
        cluster_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def admin(target: Target) -> Iterator[psycopg2.extensions.connection]:
    """An admin connection to the server's maintenance database."""
    conn = psycopg2.connect(target.admin_dsn)
    conn.autocommit = True
    with contextlib.closing(conn):
        yield conn


def query(conn: psycopg2.extensions.connection, sql: str) -> list[tuple]:
    """Rows of one query."""
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def test_port_is_listening(target: Target) -> None:
    host: Any = testinfra.get_host(target.backend)  # modules are attached at run time
    address = "0.0.0.0" if target.host not in ("127.0.0.1", "localhost") else "127.0.0.1"
    listening = (
        host.socket(f"tcp://{address}:{target.port}").is_listening
        or host.socket(f"tcp://{target.port}").is_listening
    )
    assert listening, f"nothing listens on port {target.port} of {target.backend}"


def test_pgaudit_is_preloaded(admin: psycopg2.extensions.connection) -> None:
    [(libraries,)] = query(admin, "SHOW shared_preload_libraries")
    assert "pgaudit" in [lib.strip() for lib in libraries.split(",")]
    [(classes,)] = query(admin, "SHOW pgaudit.log")
    assert {"ddl", "role"} <= {c.strip() for c in classes.split(",")} or "all" in classes


def test_pgaudit_extension_installed_everywhere(
    target: Target, admin: psycopg2.extensions.connection
) -> None:
    databases = [
        name
        for (name,) in query(
            admin, "SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn"
        )
        if name != "postgres"
    ]
    assert databases, "no platform databases on the server"
    for database in databases:
        dsn = psycopg2.extensions.make_dsn(target.admin_dsn, dbname=database)
        with contextlib.closing(psycopg2.connect(dsn)) as conn:
            rows = query(conn, "SELECT extname FROM pg_extension")
        assert ("pgaudit",) in rows, f"pgaudit extension missing in {database}"


def test_no_superuser_besides_the_admin(
    target: Target, admin: psycopg2.extensions.connection
) -> None:
    assert query(admin, "SELECT rolname FROM pg_roles WHERE rolsuper") == [(target.admin_user,)]


def test_connections_are_logged_and_passwords_scram(
    target: Target, admin: psycopg2.extensions.connection
) -> None:
    settings = dict(
        query(
            admin,
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('log_connections', 'log_disconnections', 'password_encryption', 'ssl')",
        )
    )
    assert settings["log_connections"] == settings["log_disconnections"] == "on"
    assert settings["password_encryption"] == "scram-sha-256"
    if target.expect_tls:
        assert settings["ssl"] == "on"


def test_server_log_keeps_secrets_and_parameters_out(admin: psycopg2.extensions.connection) -> None:
    """Field failures 4 and 5: no statement logging that bypasses pgaudit's redaction, and
    no bind parameter values where pgaudit.log_parameter is off."""
    settings = dict(
        query(
            admin,
            "SELECT name, setting FROM pg_settings WHERE name IN ('log_statement', "
            "'pgaudit.log_parameter', 'log_parameter_max_length', "
            "'log_parameter_max_length_on_error')",
        )
    )
    assert settings["log_statement"] == "none"
    assert settings["log_parameter_max_length_on_error"] == "0"
    if settings["pgaudit.log_parameter"] == "off":
        assert settings["log_parameter_max_length"] == "0"


def test_role_passwords_are_scram_verifiers(admin: psycopg2.extensions.connection) -> None:
    """Every stored password is a SCRAM verifier (no md5, no clear text)."""
    weak = query(
        admin,
        "SELECT rolname FROM pg_authid WHERE rolpassword IS NOT NULL "
        "AND rolpassword NOT LIKE 'SCRAM-SHA-256$%'",
    )
    assert weak == []


def test_data_directory_is_private(admin: psycopg2.extensions.connection) -> None:
    """Field failure 3: the running server's data directory is 0700 (or 0750)."""
    [(mode,)] = query(admin, "SHOW data_directory_mode")
    assert mode in ("0700", "0750")


def test_admin_failed_statements_are_not_echoed(admin: psycopg2.extensions.connection) -> None:
    """The start script's admin role setting: a password typed into a failing statement
    by a person stays out of the log."""
    assert query(admin, "SHOW log_min_error_statement") == [("panic",)]
