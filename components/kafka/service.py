"""The registry entry of Kafka: stamped from `kafka`, producer of stream access."""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import Service, ServiceContext, StreamProducer
from components.kafka.component import Kafka
from components.kafka.settings import KafkaSettings

NAME = "kafka"


def build(ctx: ServiceContext, settings: BaseModel) -> Kafka:
    """The Kafka component, with a principal for every consumer that requires a stream."""
    assert isinstance(settings, KafkaSettings)
    return Kafka(
        ctx.resource_name(NAME),
        stack=ctx.stack,
        settings=settings,
        runtime=ctx.runtime,
        admin=ctx.admin.get(NAME),
        requirements=[r for r in ctx.requirements if r.needs_stream],
        opts=ctx.options(),
    )


SERVICE = Service(name=NAME, section="kafka", build=build, produces=(StreamProducer,))
