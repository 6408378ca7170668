"""Fixtures for integration tests: real PostgreSQL clusters with the dev and prod settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

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
