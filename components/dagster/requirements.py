"""What Dagster requires of the producers (components/contracts.py), from its settings.

Its instance lives in a database of its own (`dagster`, owned by a login of the same
name); user code gets an S3 user with the configured lake grants, a Kafka principal for
the configured topics, an OpenLineage endpoint, and metrics once the stack has them.
"""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import BucketNeed, DatabaseNeed, Requirements, StreamNeed
from components.dagster.settings import DagsterSettings

CONSUMER = "dagster"


def dagster_requirements(settings: BaseModel) -> Requirements:
    """Dagster's database, bucket, stream, lineage and metrics needs."""
    assert isinstance(settings, DagsterSettings)
    stream = settings.stream
    return Requirements(
        consumer=CONSUMER,
        databases=(DatabaseNeed(database=settings.database),),
        buckets=tuple(
            BucketNeed(bucket=grant.bucket, access=grant.access) for grant in settings.buckets
        ),
        stream=StreamNeed(read=stream.read, write=stream.write) if stream is not None else None,
        lineage=True,
        metrics=True,
    )
