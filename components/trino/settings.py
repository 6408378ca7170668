"""Trino's stack settings: image, node sizes, security, the lake, the access policy.

`TrinoSettings` is the `data-platform:trino` section of a stack file. What every stack of
a tier starts from is `TrinoSettings.tier_defaults` (docs/trino.md): the access policy
shared by every tier is `governance.yaml` next to this module, so a stack file keeps
only what differs for it (image, sizes, workers, admin port, the people in each group).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from components.common import PinnedImage, ResourceSettings
from components.contracts import BucketAccessLevel
from components.kafka.settings import TopicName
from components.runtime.quantities import MEMORY_PATTERN, memory_bytes
from components.runtime.stack import SettingsModel, Tier
from components.tier_defaults import load_defaults
from components.trino.access import AccessPolicy

GOVERNANCE_FILE = Path(__file__).with_name("governance.yaml")
"""The access policy every tier starts from (raw camelCase, as in a stack file), minus the
groups: who is in which group is stack config."""
ACCESS_REFRESH_PERIOD = {Tier.DEV: "10s", Tier.TEST: "30s", Tier.PROD: "60s"}
"""How soon an edited policy applies: fast while developing, slower where it is stable."""

# Trino's defaults: a query may use 30% of the heap per node, and 30% stays headroom.
QUERY_MEMORY_FRACTION = 0.3
MIB = 2**20

Duration = Annotated[str, Field(pattern=r"^\d+(ms|s|m|h)$")]
BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")]


class Authentication(StrEnum):
    """How clients authenticate to the coordinator."""

    NONE = "none"
    PASSWORD = "password"


class LogLevel(StrEnum):
    """Trino's log levels for `io.trino`."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class NodeSettings(SettingsModel):
    """Size of one Trino node; the JVM heap is a fraction of the memory limit."""

    resources: ResourceSettings
    heap_fraction: float = Field(default=0.7, ge=0.5, le=0.85)

    @property
    def heap_mib(self) -> int:
        """`-Xmx` in MiB."""
        return int(memory_bytes(self.resources.memory_limit) * self.heap_fraction) // MIB

    @property
    def query_memory_mib(self) -> int:
        """`query.max-memory-per-node` in MiB."""
        return int(self.heap_mib * QUERY_MEMORY_FRACTION)


class WorkerSettings(NodeSettings):
    """The worker tier: how many and how big."""

    replicas: int = Field(ge=1, le=100)


class LakeGrant(SettingsModel):
    """Trino's access to one lake bucket."""

    bucket: BucketName
    access: BucketAccessLevel


class KafkaCatalogSettings(SettingsModel):
    """The `kafka` catalog: which of the stack's declared Kafka topics Trino exposes as tables.

    Each topic becomes a table of raw messages (`_message`, `_key`, `_timestamp`, ...):
    `sales.orders` is table `kafka.sales.orders`. Trino reads them as its own Kafka
    principal, which the stream producer grants READ on exactly these topics.
    """

    topics: tuple[TopicName, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        repeated = sorted({t for t in self.topics if self.topics.count(t) > 1})
        if repeated:
            raise ValueError(f"topics must be unique, repeated: {repeated}")
        return self


class QueryAuditSettings(SettingsModel):
    """Where Trino's Kafka event listener writes one record per completed query (the audit
    trail: who ran what, when, on which tables, and how it ended)."""

    topic: TopicName


class TrinoSettings(SettingsModel):
    """Trino of one stack: image, sizes, security, where the lake lives, and the access policy.

    Secure by default: password authentication over TLS; dev loosens it explicitly in its
    stack file. Raises ValidationError for passwords without TLS or a heap too small.
    """

    image: PinnedImage
    coordinator: NodeSettings
    workers: WorkerSettings | None = None
    authentication: Authentication = Authentication.PASSWORD
    tls: bool = True
    admin_host_port: int | None = Field(default=None, ge=1024, le=65535)
    access_refresh_period: Duration = "60s"
    data_dir_size: Annotated[str, Field(pattern=MEMORY_PATTERN)] = "4Gi"
    log_level: LogLevel = LogLevel.INFO
    warehouse_bucket: BucketName = "gold"
    lake_grants: tuple[LakeGrant, ...] = (
        LakeGrant(bucket="bronze", access=BucketAccessLevel.READ),
        LakeGrant(bucket="silver", access=BucketAccessLevel.READ_WRITE),
        LakeGrant(bucket="gold", access=BucketAccessLevel.READ_WRITE),
    )
    """Trino's S3 user's access to the lake layers (it reads raw data, writes the rest)."""
    s3_region: str = "us-east-1"
    run_as_user: int = Field(default=1000, ge=1)
    shutdown_grace_seconds: int = Field(default=60, ge=10, le=600)
    """`shutdown.grace-period` of a worker: it drains for twice this before it exits."""
    access: AccessPolicy
    lineage: bool = True
    """OpenLineage event listener on: column-level lineage of INSERT ... SELECT and CTAS goes
    to the stack's lineage producer (Marquez), which the stack must then run."""
    kafka_catalog: KafkaCatalogSettings | None = None
    query_audit: QueryAuditSettings | None = None

    @property
    def stream_reads(self) -> tuple[str, ...]:
        """Topics Trino's Kafka principal reads (the `kafka` catalog's tables)."""
        return self.kafka_catalog.topics if self.kafka_catalog else ()

    @property
    def stream_writes(self) -> tuple[str, ...]:
        """Topics Trino's Kafka principal writes (the query-audit topic)."""
        return (self.query_audit.topic,) if self.query_audit else ()

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """What a `data-platform:trino` section of `tier` starts from (raw camelCase keys).

        The governance (`governance.yaml`: rules, classified tables, masks, row filters)
        is written once for every tier; a stack replaces a rule list whole where it must
        differ (dev's `access.tables`) and names the people of each group
        (`access.groups`). See components/tier_defaults.py for the merge rules.
        """
        return {
            "accessRefreshPeriod": ACCESS_REFRESH_PERIOD[tier],
            "access": load_defaults(GOVERNANCE_FILE),
        }

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.authentication is Authentication.PASSWORD and not self.tls:
            raise ValueError(
                "authentication 'password' needs tls: true (Trino accepts passwords over HTTPS only)"
            )
        writable = {g.bucket for g in self.lake_grants if g.access is BucketAccessLevel.READ_WRITE}
        if self.warehouse_bucket not in writable:
            raise ValueError(
                f"warehouseBucket {self.warehouse_bucket!r} needs a read-write entry in lakeGrants"
            )
        if self.coordinator.query_memory_mib < 64:
            raise ValueError(
                f"coordinator heap of {self.coordinator.heap_mib} MiB is too small for Trino"
            )
        return self

    def tier_problems(self, tier: Tier) -> list[str]:
        """What this tier requires beyond the schema: TLS and passwords outside dev, prod workers."""
        problems: list[str] = []
        if tier is not Tier.DEV:
            if not self.tls:
                problems.append(f"trino.tls must be true in a {tier.value} stack")
            if self.authentication is not Authentication.PASSWORD:
                problems.append(f"trino.authentication must be 'password' in a {tier.value} stack")
        if tier is Tier.PROD and (self.workers is None or self.workers.replicas < 2):
            problems.append("trino.workers.replicas must be at least 2 in prod")
        if tier is Tier.PROD and self.query_audit is None:
            problems.append(
                "trino.queryAudit is required in prod: every completed query is written to a "
                "Kafka audit topic (e.g. queryAudit: {topic: audit.trino-queries})"
            )
        problems += [f"trino.{p}" for p in self.access.tier_problems(tier)]
        return problems

    @property
    def node_count(self) -> int:
        """Nodes that run query tasks (the coordinator only schedules when workers exist)."""
        return self.workers.replicas if self.workers else 1
