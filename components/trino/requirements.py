"""What Trino requires of the producers (components/contracts.py), from its settings.

The lake's Iceberg JDBC catalog lives in a database Trino owns (`iceberg`); the warehouse
catalog connects as the `trino` login, an `engineer` (it reads curated and writes
staging, as governance grants engineers); its S3 user reads and writes the lake layers.
Where the settings ask for them: an OpenLineage endpoint (`lineage`), and a Kafka
principal reading the `kafka` catalog's topics and writing the query-audit topic.
"""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import (
    BucketAccessLevel,
    BucketNeed,
    DatabaseNeed,
    LoginNeed,
    Requirements,
    StreamNeed,
)
from components.trino.connections import LAKE_DATABASE, TRINO_POSTGRES_LOGIN
from components.trino.settings import TrinoSettings

CONSUMER = "trino"
WAREHOUSE_GROUPS = ("engineer",)


def trino_requirements(settings: BaseModel) -> Requirements:
    """Trino's database, login and bucket needs; lineage and a stream where configured."""
    assert isinstance(settings, TrinoSettings)
    reads, writes = settings.stream_reads, settings.stream_writes
    return Requirements(
        consumer=CONSUMER,
        databases=(DatabaseNeed(database=LAKE_DATABASE),),
        logins=(LoginNeed(login=TRINO_POSTGRES_LOGIN, member_of=WAREHOUSE_GROUPS),),
        buckets=tuple(
            BucketNeed(bucket=grant.bucket, access=BucketAccessLevel(grant.access))
            for grant in settings.lake_grants
        ),
        stream=StreamNeed(read=reads, write=writes) if reads or writes else None,
        lineage=settings.lineage,
    )
