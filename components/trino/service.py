"""The registry entry of Trino: stamped from `trino`, a consumer of PostgreSQL and MinIO,
and, where its settings ask, of the lineage producer (Marquez) and the stream (Kafka)."""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import (
    DatabaseAccess,
    LineageAccess,
    Service,
    ServiceContext,
    StreamAccess,
)
from components.trino.component import Trino
from components.trino.connections import (
    ICEBERG_JDBC_CATALOG_DDL,
    LAKE_DATABASE,
    TRINO_POSTGRES_LOGIN,
    WAREHOUSE_DATABASE,
    JdbcConnection,
    LineageConnection,
    S3Connection,
    StreamConnection,
)
from components.trino.requirements import CONSUMER, trino_requirements
from components.trino.settings import TrinoSettings


def _jdbc(access: DatabaseAccess) -> JdbcConnection:
    return JdbcConnection(
        endpoint=access.endpoint,
        database=access.database,
        user=access.user,
        password=access.password,
        peer=access.peer.connection(),
        ca_certificate=access.ca_certificate,
    )


def _lineage(access: LineageAccess) -> LineageConnection:
    return LineageConnection(
        url=access.endpoint.url, namespace=access.namespace, peer=access.peer.connection()
    )


def _stream(access: StreamAccess) -> StreamConnection:
    return StreamConnection(
        bootstrap_servers=access.bootstrap_servers,
        security_protocol=access.security_protocol,
        sasl_mechanism=access.sasl_mechanism,
        user=access.user,
        password=access.password,
        ca_certificate=access.ca_certificate,
        peer=access.peer.connection(),
    )


def build(ctx: ServiceContext, settings: BaseModel) -> Trino:
    """Trino over the lake (MinIO + its Iceberg JDBC catalog in PostgreSQL) and the warehouse.

    Its pods wait for exactly what they log in with (the S3 user with its grants, the
    PostgreSQL logins and databases); the catalog tables of the lake are created once by
    their owner in a job of the database producer (Trino does not create them). With
    lineage on, the coordinator posts OpenLineage events to the lineage producer; with a
    `kafka` catalog or a query-audit topic, Trino logs in to Kafka as its own principal,
    whose credential and ACLs its pods wait for as well.
    """
    assert isinstance(settings, TrinoSettings)
    needs = trino_requirements(settings)
    lineage = ctx.lineage().lineage_access(CONSUMER) if needs.needs_lineage else None
    stream = ctx.stream().stream_access(CONSUMER) if needs.needs_stream else None
    database = ctx.database()
    s3 = ctx.object_store().object_store_access(CONSUMER)
    lake = database.database_access(CONSUMER, database=LAKE_DATABASE, login=LAKE_DATABASE)
    warehouse = database.database_access(
        CONSUMER, database=WAREHOUSE_DATABASE, login=TRINO_POSTGRES_LOGIN
    )
    trino = Trino(
        ctx.resource_name(CONSUMER),
        stack=ctx.stack,
        settings=settings,
        runtime=ctx.runtime,
        s3=S3Connection(
            endpoint=s3.endpoint,
            access_key=s3.access_key,
            secret_key=s3.secret_key,
            peer=s3.peer.connection(),
            ca_certificate=s3.ca_certificate,
        ),
        warehouse_dir=f"s3://{s3.buckets[settings.warehouse_bucket]}/warehouse",
        iceberg=_jdbc(lake),
        warehouse=_jdbc(warehouse),
        lineage=_lineage(lineage) if lineage else None,
        stream=_stream(stream) if stream else None,
        start_after=[
            *s3.ready,
            *lake.ready,
            *warehouse.ready,
            *(lineage.ready if lineage else ()),
            *(stream.ready if stream else ()),
        ],
        opts=ctx.options(),
    )
    database.sql_job(
        "iceberg-catalog",
        database=LAKE_DATABASE,
        login=LAKE_DATABASE,
        statements=ICEBERG_JDBC_CATALOG_DDL,
    )
    return trino


SERVICE = Service(name=CONSUMER, section="trino", build=build, requirements=trino_requirements)
