"""Role-based access on a real server: what each role can and cannot do, as the stack declares."""

from __future__ import annotations

import contextlib

import psycopg2
import psycopg2.errors
import pytest

from components.trino.connections import ICEBERG_JDBC_CATALOG_DDL
from tests.integration.pg_cluster import Cluster

pytestmark = pytest.mark.integration

# Service logins of the stack config and the group each belongs to.
ANALYST, ENGINEER, STEWARD = "redash_reader", "trino", "amundsen_crawler"


def run(cluster: Cluster, user: str, sql: str, dbname: str = "warehouse") -> list[tuple]:
    """Run one statement as `user`; rows if it returns any."""
    conn = cluster.connect(user, dbname, application_name="tests")
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else []


def denied(cluster: Cluster, user: str, sql: str) -> None:
    """Assert that `user` gets `permission denied` for `sql`."""
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run(cluster, user, sql)


def test_plan_memberships_are_what_config_says(pg: Cluster) -> None:
    rows = run(
        pg,
        "postgres",
        "SELECT r.rolname, g.rolname FROM pg_auth_members m "
        "JOIN pg_roles r ON r.oid = m.member JOIN pg_roles g ON g.oid = m.roleid "
        "WHERE r.rolname NOT LIKE 'pg\\_%'",
        "postgres",
    )
    expected = {(x.name, g.value) for x in pg.settings.access.logins for g in x.member_of}
    assert set(rows) == expected


def test_analyst_reads_curated_only(pg: Cluster) -> None:
    assert run(pg, ANALYST, "SELECT email FROM curated.customers") == [("ada@example.com",)]
    denied(pg, ANALYST, "INSERT INTO curated.customers VALUES (2, 'x@example.com')")
    denied(pg, ANALYST, "SELECT * FROM staging.orders")
    denied(pg, ANALYST, "CREATE TABLE public.scratch (id int)")


def test_engineer_writes_staging_and_reads_curated(pg: Cluster) -> None:
    run(pg, ENGINEER, "INSERT INTO staging.orders (amount) VALUES (42)")
    assert run(pg, ENGINEER, "SELECT count(*) FROM staging.orders")[0][0] >= 1
    assert run(pg, ENGINEER, "SELECT count(*) FROM curated.customers") == [(1,)]
    denied(pg, ENGINEER, "INSERT INTO curated.customers VALUES (3, 'y@example.com')")
    denied(pg, ENGINEER, "CREATE TABLE public.scratch (id int)")


def test_steward_reads_everything_and_writes_nothing(pg: Cluster) -> None:
    assert run(pg, STEWARD, "SELECT count(*) FROM curated.customers") == [(1,)]
    run(pg, STEWARD, "SELECT count(*) FROM staging.orders")
    assert run(pg, STEWARD, "SELECT * FROM audit.customer_count") == [(1,)]
    denied(pg, STEWARD, "INSERT INTO staging.orders (amount) VALUES (1)")
    denied(pg, STEWARD, "DELETE FROM curated.customers")
    denied(pg, STEWARD, "CREATE TABLE public.scratch (id int)")


@pytest.mark.parametrize(
    ("user", "database"),
    [
        ("dagster", "marquez"),
        ("marquez", "dagster"),
        ("redash", "warehouse"),
        ("iceberg", "warehouse"),
        ("warehouse", "iceberg"),
        (ANALYST, "dagster"),
    ],
)
def test_service_cannot_connect_to_another_services_database(
    pg: Cluster, user: str, database: str
) -> None:
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        run(pg, user, "SELECT 1", database)


SERVICE_DATABASES = ("warehouse", "dagster", "marquez", "redash", "amundsen", "iceberg")
"""Databases with their service login of the same name (the admin owns each database)."""


def test_each_service_works_in_its_own_database_without_owning_it(pg: Cluster) -> None:
    for database in SERVICE_DATABASES:
        owner = run(
            pg,
            "postgres",
            f"SELECT datdba::regrole::text FROM pg_database WHERE datname = '{database}'",
            "postgres",
        )
        assert owner == [(pg.settings.admin_user,)], database
        run(pg, database, "CREATE TABLE own_check (id int)", database)
        run(pg, database, "CREATE TABLE public.own_check_public (id serial)", database)
        run(pg, database, "CREATE TEMPORARY TABLE own_check_temp (id int)", database)
        run(pg, database, "CREATE SCHEMA own_check_schema", database)


def test_the_warehouse_login_creates_tables_in_the_schemas_it_owns(pg: Cluster) -> None:
    for schema in ("curated", "staging", "audit"):
        run(pg, "warehouse", f"CREATE TABLE {schema}.owner_check (id int)")
        owner = run(
            pg,
            "postgres",
            f"SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = '{schema}'",
        )
        assert owner == [("warehouse",)]


@pytest.mark.parametrize("database", SERVICE_DATABASES)
def test_a_service_cannot_drop_its_database(pg: Cluster, database: str) -> None:
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="must be owner"):
        run(pg, database, f'DROP DATABASE "{database}"', database)


def test_the_iceberg_catalog_job_statements_run_as_the_iceberg_login(pg: Cluster) -> None:
    """What `Postgres.sql_job("iceberg-catalog", ...)` runs: twice, as it may on redeploys."""
    for _ in range(2):
        for statement in ICEBERG_JDBC_CATALOG_DDL:
            run(pg, "iceberg", statement, "iceberg")
    rows = run(
        pg,
        "iceberg",
        "SELECT tablename, tableowner FROM pg_tables "
        "WHERE schemaname = 'public' AND tablename LIKE 'iceberg%' ORDER BY 1",
        "iceberg",
    )
    assert rows == [("iceberg_namespace_properties", "iceberg"), ("iceberg_tables", "iceberg")]


def test_nobody_but_the_admin_is_superuser(pg: Cluster) -> None:
    rows = run(pg, "postgres", "SELECT rolname FROM pg_roles WHERE rolsuper", "postgres")
    assert rows == [(pg.settings.admin_user,)]
    groups = run(
        pg,
        "postgres",
        "SELECT rolname, rolcanlogin, rolcreaterole FROM pg_roles "
        "WHERE rolname IN ('analyst','engineer','steward','platform_admin') ORDER BY 1",
        "postgres",
    )
    assert groups == [
        ("analyst", False, False),
        ("engineer", False, False),
        ("platform_admin", False, True),
        ("steward", False, False),
    ]


def test_pgaudit_extension_in_every_database(pg: Cluster) -> None:
    for database in pg.settings.access.databases:
        rows = run(pg, "postgres", "SELECT extname FROM pg_extension", database.name)
        assert ("pgaudit",) in rows


@pytest.mark.parametrize("pg", ["prod"], indirect=True)
def test_prod_refuses_connections_without_tls(pg: Cluster) -> None:
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        psycopg2.connect(pg.dsn("trino", "warehouse", sslmode="disable"))
    rows = run(pg, ENGINEER, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert rows == [(True,)]
