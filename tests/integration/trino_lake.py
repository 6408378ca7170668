"""The data Trino's integration tests query: a stack's PostgreSQL (warehouse + Iceberg JDBC
catalog), a moto S3 server as the lake's object store, and seeded tables in both catalogs.

Seeded tables: every classified table of the stack's access policy (id, region and its
PII columns, two rows per region) and one plain table per schema the policy names
(`lake.bronze.events`, `lake.sandbox.scratch`, `warehouse.staging.loads`). Lake tables are
created through Trino by an admin (as a deploy's first load would), warehouse tables in
PostgreSQL by the warehouse owner (as the pipelines do; default privileges apply).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3

from components.runtime.workload import Endpoint
from components.trino import (
    ICEBERG_JDBC_CATALOG_DDL,
    LAKE_DATABASE,
    TRINO_POSTGRES_LOGIN,
    WAREHOUSE_DATABASE,
    Login,
    TrinoSettings,
)
from components.trino.access import ClassifiedTable, Role
from components.trino.connections import jdbc_url
from components.trino.files import POSTGRES_CA_FILE
from ops.render import load_stack_config
from tests.integration.pg_cluster import Cluster, running_cluster
from tests.integration.trino_server import Backends, TrinoServer, running_trino, self_signed_pem

REGIONS = ("EMEA", "AMER")
S3_KEYS = Login(user="test-access", password="test-secret")


@dataclass(frozen=True)
class SeededTable:
    """A table the fixture created, its columns, and the PII columns among them."""

    catalog: str
    schema: str
    table: str
    columns: tuple[str, ...]
    pii: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        """`catalog.schema.table`."""
        return f"{self.catalog}.{self.schema}.{self.table}"


def clear_value(column: str, row: int) -> str:
    """The unmasked value of a PII column in row `row` (an address for e-mail columns)."""
    if "email" in column:
        return f"person{row}@example.com"
    if "phone" in column:
        return f"555-010-{1000 + row}"
    return f"Person Number{row}"


def seeded_tables(settings: TrinoSettings) -> tuple[SeededTable, ...]:
    """Every classified table plus one plain table in each further schema the rules name."""
    classified = tuple(_classified(t) for t in settings.access.classified_tables)
    plain = tuple(
        SeededTable(catalog=c, schema=s, table=t, columns=("id", "region"))
        for c, s, t in (
            ("lake", "bronze", "events"),
            ("lake", "sandbox", "scratch"),
            ("warehouse", "staging", "loads"),
        )
    )
    return classified + plain


def _classified(table: ClassifiedTable) -> SeededTable:
    pii = tuple(c.name for c in table.pii)
    return SeededTable(
        catalog=table.catalog,
        schema=table.schema_name,
        table=table.table,
        columns=("id", "region", *pii),
        pii=pii,
    )


def _rows(table: SeededTable) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for index in range(4):
        row: list[object] = [index + 1, REGIONS[index % 2]]
        row += [clear_value(c, index + 1) for c in table.pii]
        rows.append(tuple(row))
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server: its endpoint and, over TLS, the certificate it presents."""

    endpoint: str
    ca: Path | None


@contextlib.contextmanager
def moto_server(directory: Path | None = None) -> Iterator[S3Server]:
    """A moto S3 server on a free loopback port; over TLS (a throwaway certificate written
    to `directory`) when a directory is given, as the stacks' MinIO serves outside dev."""
    port = _free_port()
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    ca = None
    if directory is not None:
        key_pem, cert_pem = self_signed_pem()
        ca, key = directory / "s3-ca.pem", directory / "s3-key.pem"
        ca.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        command += ["-s", "-c", str(ca), "-k", str(key)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield S3Server(endpoint=f"{'https' if ca else 'http'}://127.0.0.1:{port}", ca=ca)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _jdbc_url(cluster: Cluster, database: str) -> str:
    """The URL the component renders for `database`, pointed at the test cluster: with
    TLS, pgjdbc verifies the server against the certificate at the CA file's path (the
    server's own, placed there by `running_trino` from `Backends.postgres_ca`)."""
    endpoint = Endpoint(host=cluster.host, port=cluster.port)
    return jdbc_url(endpoint, database, ca_file=POSTGRES_CA_FILE if cluster.tls else None)


def _seed_warehouse(cluster: Cluster, tables: tuple[SeededTable, ...]) -> None:
    conn = cluster.connect(WAREHOUSE_DATABASE, WAREHOUSE_DATABASE, application_name="seed")
    with contextlib.closing(conn), conn.cursor() as cur:
        for table in (t for t in tables if t.catalog == "warehouse"):
            columns = ", ".join(
                ["id int PRIMARY KEY", "region text", *(f"{c} text" for c in table.pii)]
            )
            cur.execute(f"CREATE TABLE {table.schema}.{table.table} ({columns})")
            for row in _rows(table):
                marks = ", ".join(["%s"] * len(row))
                cur.execute(f"INSERT INTO {table.schema}.{table.table} VALUES ({marks})", row)


def _create_iceberg_catalog_tables(cluster: Cluster) -> None:
    """What a deploy must do before Trino first uses the lake (Trino does not)."""
    conn = cluster.connect(LAKE_DATABASE, LAKE_DATABASE, application_name="seed")
    with contextlib.closing(conn), conn.cursor() as cur:
        for statement in ICEBERG_JDBC_CATALOG_DDL:
            cur.execute(statement)


def _seed_lake(server: TrinoServer, tables: tuple[SeededTable, ...]) -> None:
    admin = admin_user(server.settings)
    lake = [t for t in tables if t.catalog == "lake"]
    for schema in sorted({t.schema for t in lake}):
        server.query(admin, f"CREATE SCHEMA lake.{schema}")
    for table in lake:
        columns = ", ".join(["id integer", "region varchar", *(f"{c} varchar" for c in table.pii)])
        server.query(admin, f"CREATE TABLE {table.qualified} ({columns})")
        values = ", ".join(
            "(" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in row) + ")"
            for row in _rows(table)
        )
        server.query(admin, f"INSERT INTO {table.qualified} VALUES {values}")


def admin_user(settings: TrinoSettings) -> str:
    """A member of the policy's first admin group."""
    return next(g for g in settings.access.groups if g.role is Role.ADMIN).members[0]


@contextlib.contextmanager
def running_platform(stack: str, s3_server: S3Server) -> Iterator[TrinoServer]:
    """PostgreSQL and Trino with `stack`'s settings over moto S3, seeded; yields the server."""
    config = load_stack_config(stack)
    settings = config.trino
    if config.object_store.tls and s3_server.ca is None:
        raise ValueError(f"stack {stack!r} serves S3 over TLS: give a TLS moto server")
    bucket = config.platform.physical_name(settings.warehouse_bucket)
    s3_endpoint = s3_server.endpoint
    s3 = boto3.client(
        "s3",
        verify=str(s3_server.ca) if s3_server.ca else None,
        endpoint_url=s3_endpoint,
        region_name=settings.s3_region,
        aws_access_key_id=S3_KEYS.user,
        aws_secret_access_key=S3_KEYS.password,
    )
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    tables = seeded_tables(settings)
    with running_cluster(stack) as cluster:
        _seed_warehouse(cluster, tables)
        _create_iceberg_catalog_tables(cluster)
        backends = Backends(
            warehouse_url=_jdbc_url(cluster, WAREHOUSE_DATABASE),
            warehouse=Login(
                user=TRINO_POSTGRES_LOGIN, password=cluster.password(TRINO_POSTGRES_LOGIN)
            ),
            lake_url=_jdbc_url(cluster, LAKE_DATABASE),
            lake=Login(user=LAKE_DATABASE, password=cluster.password(LAKE_DATABASE)),
            s3_endpoint=s3_endpoint,
            s3=S3_KEYS,
            warehouse_dir=f"s3://{bucket}/warehouse-{stack}",
            s3_ca=s3_server.ca if config.object_store.tls else None,
            postgres_ca=cluster.ca_file,
        )
        with running_trino(stack, config.platform, settings, backends) as server:
            _seed_lake(server, tables)
            yield server
