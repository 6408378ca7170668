"""What reaches the PostgreSQL server log, on a real server with each stack's settings.

Field failure 4: a failed CREATE/ALTER ROLE ... PASSWORD printed the clear-text password
on the `STATEMENT:` line (pgaudit redacts only its own line). Role passwords now travel
as SCRAM verifiers, so no log path ever sees one; and the admin role's failed statements
are not echoed, for passwords people type.
Field failure 5: slow extended-protocol statements logged their bind parameters
(`DETAIL: parameters: $1 = ...`) although pgaudit.log_parameter is off in prod.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid

import psycopg2
import psycopg2.errors
import pytest

from components.postgres.plan import RoleSpec, access_plan
from tests.integration.pg_cluster import PG_BIN, Cluster

pytestmark = pytest.mark.integration

PERSONAL = "jane.doe@example.org"


def secrets_in_log(cluster: Cluster) -> list[str]:
    """Log lines carrying any login's clear-text password (or the admin's)."""
    values = [cluster.admin_password, *cluster.passwords.values()]
    return [line for line in cluster.log_text().splitlines() if any(v in line for v in values)]


def test_role_creation_logs_no_password(pg: Cluster) -> None:
    assert pg.passwords and not secrets_in_log(pg)
    line = pg.wait_for_log("AUDIT: SESSION", "CREATE ROLE", '""trino""')
    assert "PASSWORD <REDACTED>" in line


def test_failed_role_statements_log_only_verifiers(pg: Cluster) -> None:
    """The plan's CREATE ROLEs, retried (the roles exist), fail; even with the server
    echoing failed statements (the admin's `panic` lifted for this session), the log
    holds their SCRAM verifiers, never a password."""
    plan = access_plan(pg.settings.access, admin=pg.settings.admin_user)
    logins = [spec for spec in plan.of_type(RoleSpec) if spec.login]
    with contextlib.closing(pg.admin()) as conn, conn.cursor() as cur:
        cur.execute("SET log_min_error_statement = 'error'")
        for spec in logins:
            with pytest.raises(psycopg2.errors.DuplicateObject):
                cur.execute(spec.sql(pg.verifiers())[0])
    statement = pg.wait_for_log("STATEMENT:", f'CREATE ROLE "{logins[-1].name}"')
    assert "SCRAM-SHA-256$" in statement
    assert not secrets_in_log(pg)
    pg.connect(logins[-1].name, "postgres").close()  # and the password still logs in


def test_a_clear_text_password_typed_by_the_admin_is_not_echoed(pg: Cluster) -> None:
    """The field case as a person would hit it: a failing CREATE ROLE with a clear-text
    password, run as the admin. The error is logged, the statement is not."""
    secret = f"Rotated-Pw-{uuid.uuid4().hex[:8]}"
    with contextlib.closing(pg.admin()) as conn, conn.cursor() as cur:
        cur.execute(f"ALTER ROLE trino PASSWORD '{secret}'")  # pgaudit: <REDACTED>
        with pytest.raises(psycopg2.errors.DuplicateObject):
            cur.execute(f"CREATE ROLE trino LOGIN PASSWORD '{secret}'")
        cur.execute(f"ALTER ROLE trino PASSWORD '{pg.verifiers()['trino']}'")  # restore
    pg.wait_for_log("ERROR:", 'role "trino" already exists')
    pg.wait_for_log("AUDIT: SESSION", "ALTER ROLE trino PASSWORD <REDACTED>")
    assert not [line for line in pg.log_text().splitlines() if secret in line]


def test_server_log_settings_keep_statements_out(pg: Cluster) -> None:
    """Siblings: log_statement would log role statements verbatim; pgaudit audits them."""
    with contextlib.closing(pg.admin()) as conn, conn.cursor() as cur:
        cur.execute("SHOW log_statement")
        assert cur.fetchone() == ("none",)
        cur.execute("SHOW log_parameter_max_length_on_error")
        assert cur.fetchone() == ("0",)
        cur.execute("SHOW log_parameter_max_length")
        row = cur.fetchone()
    assert row == ("-1" if pg.settings.audit.log_parameter else "0",)


def run_bound(cluster: Cluster, marker: str, sql: str) -> subprocess.CompletedProcess[str]:
    """Run `sql` once as `trino` with `:email` bound as a parameter (pgbench -M extended,
    as a JDBC client such as Trino's connector does); application name `marker`."""
    script = cluster.directory / f"{marker}.sql"
    script.write_text(sql + "\n")
    env = dict(
        os.environ,
        PGPASSWORD=cluster.password("trino"),
        PGSSLMODE="require" if cluster.tls else "disable",
        PGAPPNAME=marker,
    )
    return subprocess.run(
        [
            str(PG_BIN / "pgbench"), "-n", "-M", "extended", "-t", "1",
            "-D", f"email={PERSONAL}", "-f", str(script),
            "-h", cluster.host, "-p", str(cluster.port), "-U", "trino", "warehouse",
        ],
        env=env, check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def lines_of(cluster: Cluster, marker: str) -> list[str]:
    """The log lines of the session named `marker`, once it has disconnected."""
    cluster.wait_for_log(f"app={marker}", "disconnection:")
    return [x for x in cluster.log_text().splitlines() if f"app={marker}" in x]


@pytest.mark.parametrize("pg", ["prod"], indirect=True)
def test_slow_statements_log_no_parameters_when_audit_says_so(pg: Cluster) -> None:
    assert not pg.settings.audit.log_parameter
    threshold_ms = pg.settings.server.log_min_duration_statement_ms
    assert threshold_ms >= 0
    marker = f"slow-{uuid.uuid4().hex[:8]}"
    sql = f"SELECT pg_sleep({threshold_ms / 1000 + 0.2}), :email::text AS email;"
    assert run_bound(pg, marker, sql).returncode == 0
    mine = lines_of(pg, marker)
    assert [x for x in mine if "duration:" in x and "$1::text AS email" in x]  # text stays
    assert not [x for x in mine if PERSONAL in x or "parameters:" in x]


@pytest.mark.parametrize("pg", ["prod"], indirect=True)
def test_failed_bound_statements_log_no_parameters(pg: Cluster) -> None:
    """An error in a bound statement logs the statement, never the values (an error
    message that quotes a value itself, such as a failed cast, is another matter:
    docs/postgres.md)."""
    marker = f"fail-{uuid.uuid4().hex[:8]}"
    assert run_bound(pg, marker, "SELECT :email::text, 1 / 0;").returncode != 0
    mine = lines_of(pg, marker)
    assert [x for x in mine if "STATEMENT:" in x and "$1::text" in x]
    assert not [x for x in mine if PERSONAL in x or "parameters:" in x]
