"""pgaudit and the connection log on a real server, with each stack's own settings."""

from __future__ import annotations

import contextlib
import uuid

import pytest

from components.postgres.server_config import AuditClass
from tests.integration.pg_cluster import Cluster

pytestmark = pytest.mark.integration


def execute(cluster: Cluster, user: str, sql: str, app: str) -> None:
    """Run `sql` as `user` in the warehouse with a unique application name."""
    conn = cluster.connect(user, "warehouse", application_name=app)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute(sql)


def test_ddl_is_audited_with_the_role(pg: Cluster) -> None:
    table = f"staging.ddl_{uuid.uuid4().hex[:8]}"
    execute(pg, "warehouse", f"CREATE TABLE {table} (id int)", "ddl-test")
    line = pg.wait_for_log("AUDIT: SESSION", "DDL,CREATE TABLE", table)
    assert "user=warehouse" in line and "db=warehouse" in line and "app=ddl-test" in line
    assert "client=127.0.0.1" in line


def test_role_changes_are_audited(pg: Cluster) -> None:
    line = pg.wait_for_log("AUDIT: SESSION", ",ROLE,GRANT,", 'TO ""analyst""')
    assert "user=postgres" in line


def test_connections_are_logged(pg: Cluster) -> None:
    execute(pg, "trino", "SELECT 1", "conn-test")
    line = pg.wait_for_log("connection authorized: user=trino database=warehouse")
    assert "app=conn-test" in line or "user=trino" in line
    pg.wait_for_log("disconnection:", "user=trino", "database=warehouse")


def test_writes_are_audited_where_the_stack_asks(pg: Cluster) -> None:
    marker = uuid.uuid4().int % 10**9
    execute(pg, "trino", f"INSERT INTO staging.orders (amount) VALUES ({marker})", "write-test")
    if AuditClass.WRITE in pg.settings.audit.classes:
        line = pg.wait_for_log("AUDIT: SESSION", "WRITE,INSERT", str(marker))
        assert "user=trino" in line and "app=write-test" in line
        if pg.settings.audit.log_relation:
            assert "TABLE,staging.orders" in line
    else:
        # dev audits ddl and role only: the write is not in the audit log.
        pg.wait_for_log("app=write-test", "disconnection:")
        assert not [
            line
            for line in pg.log_text().splitlines()
            if "WRITE,INSERT" in line and str(marker) in line
        ]


def test_server_runs_with_the_rendered_settings(pg: Cluster) -> None:
    with contextlib.closing(pg.admin()) as conn, conn.cursor() as cur:
        settings = {}
        for name in (
            "shared_preload_libraries",
            "pgaudit.log",
            "password_encryption",
            "ssl",
            "log_connections",
            "log_disconnections",
        ):
            cur.execute(f"SHOW {name}")
            row = cur.fetchone()
            assert row is not None
            settings[name] = row[0]
    assert "pgaudit" in settings["shared_preload_libraries"]
    assert settings["pgaudit.log"] == ", ".join(c.value for c in pg.settings.audit.classes)
    assert settings["password_encryption"] == "scram-sha-256"
    assert settings["ssl"] == ("on" if pg.tls else "off")
    assert settings["log_connections"] == settings["log_disconnections"] == "on"
