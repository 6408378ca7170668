"""SQL a consumer needs inside its database runs once, as that database's service login.

Trino's Iceberg JDBC catalog needs its two catalog tables before the first lake DDL, and
Trino does not create them (seen on the real engine): a Job of the PostgreSQL component
creates them as the `iceberg` login, idempotently, on every stack.
"""

from __future__ import annotations

import pytest

from components.trino import ICEBERG_JDBC_CATALOG_DDL
from tests.conftest import KUBERNETES_STACKS, cached_render, docker_files


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_iceberg_catalog_job_runs_as_the_login_after_role_database_and_grants(stack: str) -> None:
    render = cached_render(stack)
    [job] = [j for j in render.of_type("kubernetes:batch/v1:Job") if "iceberg-catalog" in j["name"]]
    pod = job["inputs"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    script = container["command"][2]
    # psql verifies the server against its trust anchor, mounted beside the password.
    ca = "/etc/postgresql/job-secrets/server-ca.crt"
    assert f"dbname=iceberg user=iceberg sslmode=verify-full sslrootcert={ca} " in script
    assert "ON_ERROR_STOP=1" in script and "PGPASSWORD" not in str(container.get("env"))
    assert pod["automountServiceAccountToken"] is False
    names = {r["urn"]: r["name"] for r in render.resources}
    waits = {names[u].removeprefix(f"dp-{stack}-") for u in job["dependencies"] if u in names}
    # The admin owns the database: the login connects and creates by its own grants.
    assert {
        "postgres-role-iceberg",
        "postgres-db-iceberg",
        "postgres-grant-iceberg-database-iceberg",
        "postgres-grant-iceberg-schema-iceberg-public",
    } <= waits
    [config] = [
        c for c in render.of_type("kubernetes:core/v1:ConfigMap") if "iceberg-catalog" in c["name"]
    ]
    sql = config["inputs"]["data"]["etc-postgresql-job-statements.sql"]
    assert all(statement in sql for statement in ICEBERG_JDBC_CATALOG_DDL)
    assert sql.count("IF NOT EXISTS") == len(ICEBERG_JDBC_CATALOG_DDL)


def test_dev_runs_the_same_job_as_a_one_shot_container() -> None:
    containers = {
        c["name"]: c for c in cached_render("dev").of_type("docker:index/container:Container")
    }
    job = containers["dp-dev-postgres-iceberg-catalog"]["inputs"]
    assert job["attach"] is True and job["mustRun"] is False and job["restart"] == "no"
    files = docker_files(cached_render("dev"), "dp-dev-postgres-iceberg-catalog")
    assert files["/etc/postgresql/job-secrets/password"] == "[secret]"
