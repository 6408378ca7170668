"""The registry entry of Dagster: stamped from `dagster`, a consumer of PostgreSQL, the
object store, the stream, lineage and (when the stack has one) metrics."""

from __future__ import annotations

import pulumi
from pydantic import BaseModel

from components.contracts import Service, ServiceContext
from components.dagster.component import Dagster
from components.dagster.requirements import CONSUMER, dagster_requirements
from components.dagster.settings import DagsterSettings
from components.dagster.user_code import UserCodeAccess


def user_code_access(ctx: ServiceContext, settings: DagsterSettings) -> UserCodeAccess:
    """What the producers granted `dagster` for its user code; the Slack webhook (stack
    config secret) as a secret Output. Metrics only where the stack has a producer."""
    metrics = ctx.metrics()
    webhook = settings.alerts.slack_webhook
    return UserCodeAccess(
        s3=ctx.object_store().object_store_access(CONSUMER),
        region=settings.s3_region,
        lineage=ctx.lineage().lineage_access(CONSUMER),
        stream=ctx.stream().stream_access(CONSUMER) if settings.stream is not None else None,
        metrics=metrics.metrics_access(CONSUMER) if metrics is not None else None,
        slack_webhook=(
            pulumi.Output.secret(webhook.get_secret_value()) if webhook is not None else None
        ),
    )


def build(ctx: ServiceContext, settings: BaseModel) -> Dagster:
    """Dagster on its own database; its pods wait for exactly their login and users."""
    assert isinstance(settings, DagsterSettings)
    database = ctx.database().database_access(
        CONSUMER, database=settings.database, login=settings.database
    )
    return Dagster(
        ctx.resource_name(CONSUMER),
        stack=ctx.stack,
        settings=settings,
        runtime=ctx.runtime,
        database=database,
        user_code=user_code_access(ctx, settings),
        opts=ctx.options(),
    )


SERVICE = Service(
    name=CONSUMER,
    section="dagster",
    build=build,
    requirements=dagster_requirements,
    calls_cluster_api=True,  # the K8sRunLauncher creates Jobs; terminate deletes them
)
