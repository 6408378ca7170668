"""Wiring: one `DataPlatform` component that builds the runtime and every service in order."""

from __future__ import annotations

import pulumi

from components.object_store import ObjectStore
from components.postgres import Postgres
from components.runtime.base import Runtime
from components.runtime.docker import DockerRuntime
from components.runtime.kubernetes import KubernetesRuntime
from components.runtime.stack import Target
from components.runtime.workload import Connection
from components.trino import (
    ICEBERG_JDBC_CATALOG_DDL,
    LAKE_DATABASE,
    TRINO_POSTGRES_LOGIN,
    WAREHOUSE_DATABASE,
    JdbcConnection,
    S3Connection,
    Trino,
)
from infra.config import PlatformConfig


def build_runtime(config: PlatformConfig, parent: pulumi.Resource) -> Runtime:
    """The runtime the stack's target asks for."""
    stack = config.platform
    opts = pulumi.ResourceOptions(parent=parent)
    if stack.target is Target.DOCKER:
        assert config.docker is not None  # guaranteed by PlatformConfig's validator
        return DockerRuntime(
            f"{stack.prefix}-runtime", stack=stack, settings=config.docker, opts=opts
        )
    assert config.kubernetes is not None
    return KubernetesRuntime(
        f"{stack.prefix}-runtime", stack=stack, settings=config.kubernetes, opts=opts
    )


class DataPlatform(pulumi.ComponentResource):
    """The whole platform of one stack: runtime, then services in dependency order."""

    def __init__(
        self, name: str, *, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("dataplatform:platform:DataPlatform", name, None, opts)
        stack = config.platform
        self.runtime = build_runtime(config, self)
        self.object_store = ObjectStore(
            f"{stack.prefix}-minio",
            stack=stack,
            settings=config.object_store,
            runtime=self.runtime,
            admin=config.admin_access.minio,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.postgres = Postgres(
            f"{stack.prefix}-postgres",
            stack=stack,
            settings=config.postgres,
            runtime=self.runtime,
            admin=config.admin_access.postgres,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.trino = self._trino(config)
        # Trino does not create its Iceberg JDBC catalog's tables: their owner does, once.
        self.postgres.sql_job(
            "iceberg-catalog",
            database=LAKE_DATABASE,
            login=LAKE_DATABASE,
            statements=ICEBERG_JDBC_CATALOG_DDL,
        )
        self.endpoints = {
            "minio": self.object_store.endpoint.url,
            "postgres": self.postgres.endpoint.address,
            "trino": self.trino.endpoint.url,
        }
        self.inventory = {
            "environment": stack.environment,
            "target": stack.target.value,
            "buckets": self.object_store.bucket_names,
        }
        self.register_outputs({"endpoints": self.endpoints, "inventory": self.inventory})

    def _trino(self, config: PlatformConfig) -> Trino:
        """Trino over the lake (MinIO + the Iceberg JDBC catalog in PostgreSQL) and the warehouse."""
        stack, settings = config.platform, config.trino
        access_key, secret_key = self.object_store.credentials(settings.object_store_user)
        postgres_peer = Connection(
            service="postgres", component="server", port=self.postgres.endpoint.port
        )
        require_tls = config.postgres.tls.required
        lake_user, lake_password = self.postgres.credentials(LAKE_DATABASE)
        warehouse_user, warehouse_password = self.postgres.login_credentials(TRINO_POSTGRES_LOGIN)
        bucket = self.object_store.bucket_names[settings.warehouse_bucket]
        return Trino(
            f"{stack.prefix}-trino",
            stack=stack,
            settings=settings,
            runtime=self.runtime,
            s3=S3Connection(
                endpoint=self.object_store.endpoint,
                access_key=access_key,
                secret_key=secret_key,
                peer=Connection(
                    service="minio", component="server", port=self.object_store.endpoint.port
                ),
                ca_certificate=(
                    self.object_store.certificate.cert_pem
                    if self.object_store.certificate
                    else None
                ),
            ),
            warehouse_dir=f"s3://{bucket}/warehouse",
            iceberg=JdbcConnection(
                endpoint=self.postgres.endpoint,
                database=LAKE_DATABASE,
                user=lake_user,
                password=lake_password,
                peer=postgres_peer,
                require_tls=require_tls,
            ),
            warehouse=JdbcConnection(
                endpoint=self.postgres.endpoint,
                database=WAREHOUSE_DATABASE,
                user=warehouse_user,
                password=warehouse_password,
                peer=postgres_peer,
                require_tls=require_tls,
            ),
            # Trino's pods wait for exactly what they log in with: the S3 user with its
            # grants, the PostgreSQL login and databases (not the whole storage layer).
            start_after=[
                self.object_store.user_ready[settings.object_store_user],
                *self.postgres.ready_for(
                    databases=[LAKE_DATABASE, WAREHOUSE_DATABASE],
                    logins=[TRINO_POSTGRES_LOGIN],
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
