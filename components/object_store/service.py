"""The registry entry of MinIO: stamped from `objectStore`, producer of object-store access."""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import ObjectStoreProducer, Service, ServiceContext
from components.object_store.component import ObjectStore
from components.object_store.settings import ObjectStoreSettings

NAME = "minio"


def build(ctx: ServiceContext, settings: BaseModel) -> ObjectStore:
    """The MinIO component, with a user for every consumer that requires buckets."""
    assert isinstance(settings, ObjectStoreSettings)
    return ObjectStore(
        ctx.resource_name(NAME),
        stack=ctx.stack,
        settings=settings,
        runtime=ctx.runtime,
        admin=ctx.admin.get(NAME),
        requirements=[r for r in ctx.requirements if r.needs_object_store],
        opts=ctx.options(),
    )


SERVICE = Service(name=NAME, section="object_store", build=build, produces=(ObjectStoreProducer,))
