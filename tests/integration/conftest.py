"""Fixtures for integration tests: real PostgreSQL clusters with the dev and prod settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.pg_cluster import Cluster, Unavailable, check_available, running_cluster


def _require_postgres() -> None:
    try:
        check_available()
    except Unavailable as reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must provide PostgreSQL with pgaudit: {reason}")
        pytest.skip(str(reason))


@pytest.fixture(scope="session", params=["dev", "prod"])
def pg(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A cluster per stack's settings (dev: no TLS, ddl+role; prod: TLS, ddl+role+write)."""
    _require_postgres()
    with running_cluster(request.param) as cluster:
        _seed(cluster)
        yield cluster


def _seed(cluster: Cluster) -> None:
    """Tables created by the warehouse owner, as the pipelines do: default privileges apply."""
    conn = cluster.connect("warehouse", "warehouse", application_name="seed")
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("CREATE TABLE curated.customers (id int PRIMARY KEY, email text)")
        cur.execute("INSERT INTO curated.customers VALUES (1, 'ada@example.com')")
        cur.execute("CREATE TABLE staging.orders (id serial PRIMARY KEY, amount numeric)")
        cur.execute("CREATE VIEW audit.customer_count AS SELECT count(*) FROM curated.customers")


# --- Trino -----------------------------------------------------------------------------
# One coordinator per stack (prod, test) for the whole session, started from the stack's
# own rendered files (tests/integration/trino_server.py) over a PostgreSQL cluster with
# that stack's settings (warehouse + Iceberg JDBC catalog) and a moto S3 server (the lake).


def _require_trino() -> None:
    from tests.integration.trino_server import Unavailable as TrinoUnavailable
    from tests.integration.trino_server import check_available as trino_available

    for check, what in ((check_available, "PostgreSQL"), (trino_available, "Trino")):
        try:
            check()
        except (Unavailable, TrinoUnavailable) as reason:
            if os.environ.get("CI"):
                pytest.fail(f"CI must provide {what} (scripts/install-system-deps.sh): {reason}")
            pytest.skip(str(reason))


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A moto S3 server over TLS on a free loopback port for the session (the lake's object
    store; the stacks' MinIO serves TLS with its own certificate outside dev)."""
    from tests.integration.trino_lake import moto_server

    with moto_server(tmp_path_factory.mktemp("s3-tls")) as server:
        yield server


@pytest.fixture(scope="session", params=["prod", "test"])
def trino(request: pytest.FixtureRequest, moto_s3: Any) -> Iterator[Any]:
    """A Trino coordinator running the stack's rendered access control over seeded data."""
    from tests.integration.trino_lake import running_platform

    _require_trino()
    with running_platform(request.param, moto_s3) as server:
        yield server
