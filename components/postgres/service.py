"""The registry entry of PostgreSQL: stamped from `postgres`, producer of database access."""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import DatabaseProducer, Service, ServiceContext
from components.postgres.component import Postgres
from components.postgres.consumers import served
from components.postgres.settings import PostgresSettings

NAME = "postgres"


def build(ctx: ServiceContext, settings: BaseModel) -> Postgres:
    """The PostgreSQL component, with the databases and logins its consumers require."""
    assert isinstance(settings, PostgresSettings)
    return Postgres(
        ctx.resource_name(NAME),
        stack=ctx.stack,
        settings=settings,
        runtime=ctx.runtime,
        admin=ctx.admin.get(NAME),
        requirements=served(ctx.requirements),
        opts=ctx.options(),
    )


SERVICE = Service(name=NAME, section="postgres", build=build, produces=(DatabaseProducer,))
