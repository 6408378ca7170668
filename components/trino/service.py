"""The registry entry of Trino: stamped from `trino`, a consumer of PostgreSQL and MinIO."""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import DatabaseAccess, Service, ServiceContext
from components.trino.component import Trino
from components.trino.connections import (
    ICEBERG_JDBC_CATALOG_DDL,
    LAKE_DATABASE,
    TRINO_POSTGRES_LOGIN,
    WAREHOUSE_DATABASE,
    JdbcConnection,
    S3Connection,
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
        require_tls=access.require_tls,
    )


def build(ctx: ServiceContext, settings: BaseModel) -> Trino:
    """Trino over the lake (MinIO + its Iceberg JDBC catalog in PostgreSQL) and the warehouse.

    Its pods wait for exactly what they log in with (the S3 user with its grants, the
    PostgreSQL logins and databases); the catalog tables of the lake are created once by
    their owner in a job of the database producer (Trino does not create them).
    """
    assert isinstance(settings, TrinoSettings)
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
        start_after=[*s3.ready, *lake.ready, *warehouse.ready],
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
