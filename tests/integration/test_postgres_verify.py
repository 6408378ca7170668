"""Consumers verify the PostgreSQL server: a server without the trusted certificate, or
one answering under a name its certificate does not carry, is refused.

Uses libpq (psycopg2) with the very connection string the prod stack renders for the
PostgreSQL SQL job (`sslmode=verify-full sslrootcert=...`, psql's conninfo in the Job),
pointed at a throwaway PostgreSQL 15 with prod's settings (TLS required). Only the
loopback substitutions differ: the port, the CA file's path (its content is the test
server's certificate, as the Job's secret file holds the server's), and the host
(`localhost`, the test certificate's name) where the case does not test the host check.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

from ops.render import kubernetes_objects, render_stack
from tests.integration.pg_cluster import (
    Cluster,
    require_postgres,
    running_cluster,
    self_signed_certificate,
)

pytestmark = pytest.mark.integration

STACK = "prod"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A cluster with prod's settings (TLS required) and its access plan."""
    require_postgres()
    with running_cluster(STACK) as running:
        assert running.tls and running.ca_file is not None
        yield running


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """The libpq parameters of the prod stack's SQL job, as its container runs psql."""
    [job] = [
        o
        for o in kubernetes_objects(render_stack(STACK))
        if o["kind"] == "Job" and o["metadata"]["name"] == "postgres-iceberg-catalog"
    ]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    match = re.search(r'exec psql "([^"]+)"', script)
    assert match, script
    return psycopg2.extensions.parse_dsn(match.group(1))


def _connect(cluster: Cluster, params: dict[str, str], ca: Path, **changes: str) -> None:
    """Log in with `params` on the loopback cluster, the CA file's path replaced by `ca`
    (where the params name one), plus `changes`; check the session is encrypted."""
    local = {
        **params,
        "host": "localhost",
        "port": str(cluster.port),
        "password": cluster.password(params["user"]),
        "connect_timeout": "5",
    }
    if "sslrootcert" in params:
        local["sslrootcert"] = str(ca)
    local.update(changes)
    conn = psycopg2.connect(psycopg2.extensions.make_dsn(**local))
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert cur.fetchone() == (True,)


def test_the_rendered_connection_verifies_the_server(rendered: dict[str, str]) -> None:
    assert rendered["sslmode"] == "verify-full"
    assert rendered["sslrootcert"].startswith("/")
    assert rendered["host"] == "postgres-server.dp-prod.svc.cluster.local"


def test_the_server_with_the_trusted_certificate_is_accepted(
    cluster: Cluster, rendered: dict[str, str]
) -> None:
    assert cluster.ca_file is not None
    _connect(cluster, rendered, cluster.ca_file)


def test_a_server_with_another_certificate_is_refused(
    cluster: Cluster, rendered: dict[str, str], tmp_path: Path
) -> None:
    """What a man in the middle presents: a certificate for the same names, not the one
    the consumer was handed. Before, with `sslmode=require`, the login went through."""
    other = self_signed_certificate(tmp_path)
    with pytest.raises(psycopg2.OperationalError, match="certificate verify failed"):
        _connect(cluster, rendered, other)
    # The old setting encrypts without checking whom it talks to: accepted (no anchor).
    _connect(cluster, rendered, other, sslmode="require", sslrootcert=str(tmp_path / "none"))


def test_a_server_answering_under_a_name_its_certificate_lacks_is_refused(
    cluster: Cluster, rendered: dict[str, str]
) -> None:
    """The trusted certificate, presented at an address reached under a host name it does
    not carry (the rendered in-cluster name, resolved here to loopback): refused."""
    assert cluster.ca_file is not None
    with pytest.raises(psycopg2.OperationalError, match="does not match host name"):
        _connect(cluster, rendered, cluster.ca_file, host=rendered["host"], hostaddr="127.0.0.1")
