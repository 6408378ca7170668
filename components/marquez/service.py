"""The registry entry of Marquez: stamped from `marquez`, a consumer of PostgreSQL and the
stack's `LineageProducer`."""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import LineageProducer, Service, ServiceContext
from components.marquez.component import Marquez
from components.marquez.requirements import CONSUMER, marquez_requirements
from components.marquez.settings import MarquezSettings


def build(ctx: ServiceContext, settings: BaseModel) -> Marquez:
    """Marquez over its own database (created by the database producer for its
    `DatabaseNeed`), serving lineage to every consumer that requires it."""
    assert isinstance(settings, MarquezSettings)
    database = ctx.database().database_access(
        CONSUMER, database=settings.database, login=settings.database
    )
    return Marquez(
        ctx.resource_name(CONSUMER),
        stack=ctx.stack,
        settings=settings,
        runtime=ctx.runtime,
        database=database,
        lineage_consumers=[r.consumer for r in ctx.requirements if r.needs_lineage],
        opts=ctx.options(),
    )


SERVICE = Service(
    name=CONSUMER,
    section="marquez",
    build=build,
    requirements=marquez_requirements,
    produces=(LineageProducer,),
)
