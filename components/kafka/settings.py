"""Kafka settings: the typed `kafka` section of a stack, with secure defaults per tier.

The schema's defaults are the production shape (three brokers beside a three-node KRaft
controller quorum, SCRAM-SHA-512 over TLS for clients, mutual TLS between nodes,
replication factor 3 with `min.insync.replicas` 2, no unclean leader election);
`TIER_DEFAULTS` loosens them for dev in one place (one combined broker+controller node,
plaintext on loopback, replication factor 1). `KafkaSettings.for_tier` merges a stack's
section over its tier's defaults, validates it and applies `tier_problems`.

Upstream: Kafka 4.x configuration reference (broker configs, KRaft, security: SASL/SCRAM,
SSL) at kafka.apache.org/documentation; topic name rules from `org.apache.kafka.common.
internals.Topic` (legal characters, 249 characters at most, `.`/`_` collide in metrics).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Self

from pydantic import Field, model_validator

from components.common import (
    DataClassification,
    PinnedImage,
    ResourceSettings,
    VolumeSize,
    image_version,
)
from components.runtime.quantities import memory_bytes
from components.runtime.stack import DnsLabel, SettingsModel, Tier
from components.tier_defaults import validate_for_tier

if TYPE_CHECKING:
    from components.contracts import Requirements

KAFKA_VERSION = "4.3.1"
"""The Kafka release the stacks pin (`apache/kafka:<this>`) and the tests run from Maven
Central jars (scripts/install-kafka.sh); a unit test keeps the three equal."""

KAFKA_IMAGE = f"apache/kafka:{KAFKA_VERSION}"

MAX_TOPIC_NAME = 249  # org.apache.kafka.common.internals.Topic.MAX_NAME_LENGTH

TopicName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TOPIC_NAME,
        # Dot-separated lowercase kebab-case segments, e.g. `sales.orders-raw`: a subset of
        # Kafka's legal characters that never starts with `__` (internal topics) and never
        # mixes `.` with `_` (they collide in metric names).
        pattern=r"^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*$",
    ),
]
"""A topic name: dot-separated lowercase kebab-case segments, at most 249 characters."""

DAY_MS = 24 * 60 * 60 * 1000

CLASSIFICATION_ORDER = (
    DataClassification.PUBLIC,
    DataClassification.INTERNAL,
    DataClassification.CONFIDENTIAL,
    DataClassification.RESTRICTED,
)
"""Least to most sensitive."""


class KafkaMode(StrEnum):
    """How KRaft roles are placed on nodes."""

    COMBINED = "combined"  # each node is broker and controller (dev: one node)
    SEPARATED = "separated"  # brokers, and a dedicated controller quorum


class ClientAuthentication(StrEnum):
    """How clients prove who they are on the client listener."""

    NONE = "none"  # PLAINTEXT: dev on loopback only
    SCRAM_SHA_512 = "scram-sha-512"  # SASL/SCRAM-SHA-512, over TLS where `tls` is on
    MTLS = "mtls"  # client certificates (needs `tls`)


class CleanupPolicy(StrEnum):
    """What Kafka does with old segments of a topic (`cleanup.policy`)."""

    DELETE = "delete"
    COMPACT = "compact"


class NodePoolSettings(SettingsModel):
    """A set of identical Kafka nodes (brokers, controllers or combined): count, disk, memory."""

    replicas: int = Field(default=3, ge=1, le=9)
    volume_size: VolumeSize = "50Gi"
    heap_megabytes: int = Field(default=1024, ge=128, le=32768)
    resources: ResourceSettings = ResourceSettings(
        cpu_request="500m", cpu_limit="2", memory_request="2Gi", memory_limit="2Gi"
    )

    @model_validator(mode="after")
    def _heap_fits_memory(self) -> Self:
        # The page cache and direct buffers need room beside the heap: keep it at most 3/4.
        limit = memory_bytes(self.resources.memory_limit)
        if self.heap_megabytes * 1024 * 1024 * 4 > limit * 3:
            raise ValueError(
                f"heapMegabytes {self.heap_megabytes} exceeds 3/4 of memoryLimit "
                f"{self.resources.memory_limit} (Kafka needs the rest for the page cache)"
            )
        return self


class ListenerSettings(SettingsModel):
    """Container ports of the four listeners and how clients authenticate on theirs.

    `admin_port` is the ADMIN listener the topic provider reaches from where `pulumi up`
    runs (docs/kafka.md, "The admin path"); the admin user authenticates there with
    SCRAM whenever clients authenticate at all.
    """

    client_port: int = Field(default=9092, ge=1024, le=65535)
    controller_port: int = Field(default=9093, ge=1024, le=65535)
    internal_port: int = Field(default=9094, ge=1024, le=65535)
    admin_port: int = Field(default=9095, ge=1024, le=65535)
    client_authentication: ClientAuthentication = ClientAuthentication.SCRAM_SHA_512
    tls: bool = True

    @property
    def authenticated(self) -> bool:
        """True when clients must prove who they are (an authorizer and ACLs apply)."""
        return self.client_authentication is not ClientAuthentication.NONE

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ports = (self.client_port, self.controller_port, self.internal_port, self.admin_port)
        if len(set(ports)) != len(ports):
            raise ValueError(f"listener ports must differ, got {ports}")
        if self.client_authentication is ClientAuthentication.MTLS and not self.tls:
            raise ValueError("clientAuthentication 'mtls' needs tls: true")
        return self


class DurabilitySettings(SettingsModel):
    """Cluster-wide replication defaults; the prod shape is the default."""

    default_replication_factor: int = Field(default=3, ge=1)
    min_insync_replicas: int = Field(default=2, ge=1)
    unclean_leader_election: bool = False
    offsets_topic_replication_factor: int = Field(default=3, ge=1)
    transaction_state_log_replication_factor: int = Field(default=3, ge=1)
    transaction_state_log_min_isr: int = Field(default=2, ge=1)

    @model_validator(mode="after")
    def _isr_within_replication(self) -> Self:
        if self.min_insync_replicas > self.default_replication_factor:
            raise ValueError(
                f"minInsyncReplicas {self.min_insync_replicas} exceeds "
                f"defaultReplicationFactor {self.default_replication_factor}: "
                "no acks=all write could ever succeed"
            )
        if self.transaction_state_log_min_isr > self.transaction_state_log_replication_factor:
            raise ValueError(
                f"transactionStateLogMinIsr {self.transaction_state_log_min_isr} exceeds "
                f"transactionStateLogReplicationFactor {self.transaction_state_log_replication_factor}"
            )
        return self


class TopicSettings(SettingsModel):
    """A topic declared as code: size, retention, cleanup, and who owns how sensitive data."""

    name: TopicName
    partitions: int = Field(ge=1, le=1000)
    replication_factor: int | None = Field(default=None, ge=1)  # None: the cluster default
    retention_ms: int = Field(default=7 * DAY_MS, ge=-1)  # -1: keep forever
    retention_bytes: int = Field(default=-1, ge=-1)  # per partition; -1: no size limit
    cleanup_policy: CleanupPolicy = CleanupPolicy.DELETE
    min_insync_replicas: int | None = Field(default=None, ge=1)  # None: the cluster default
    classification: DataClassification
    owner: DnsLabel

    @model_validator(mode="after")
    def _retention_not_zero(self) -> Self:
        if self.retention_ms == 0 or self.retention_bytes == 0:
            raise ValueError(
                f"topic {self.name!r}: retentionMs/retentionBytes 0 would delete every "
                "message at once; use -1 for no limit"
            )
        return self


class KafkaSettings(SettingsModel):
    """The `kafka` section of a stack: image, node pools, listeners, durability, topics."""

    image: PinnedImage = KAFKA_IMAGE
    mode: KafkaMode = KafkaMode.SEPARATED
    brokers: NodePoolSettings = NodePoolSettings()
    controllers: NodePoolSettings = NodePoolSettings(
        volume_size="10Gi",
        heap_megabytes=512,
        resources=ResourceSettings(
            cpu_request="250m", cpu_limit="1", memory_request="1Gi", memory_limit="1Gi"
        ),
    )
    listeners: ListenerSettings = ListenerSettings()
    durability: DurabilitySettings = DurabilitySettings()
    admin_user: DnsLabel = "admin"  # SCRAM user of the topic provider; a super user
    node_principal: DnsLabel = "kafka-node"  # CN of the nodes' certificate; a super user
    auto_create_topics: bool = False  # topics come from this file, not from a typo
    topics: tuple[TopicSettings, ...] = ()

    @property
    def broker_count(self) -> int:
        """How many nodes serve clients (combined nodes count as brokers)."""
        return self.brokers.replicas

    @property
    def controller_count(self) -> int:
        """How many nodes vote in the KRaft quorum."""
        if self.mode is KafkaMode.COMBINED:
            return self.brokers.replicas
        return self.controllers.replicas

    @model_validator(mode="after")
    def _fits_cluster(self) -> Self:
        problems = self.cluster_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def cluster_problems(self) -> list[str]:
        """Rules of any tier: replication within the broker count, unique topics, odd quorum."""
        problems: list[str] = []
        if image_version(self.image) != KAFKA_VERSION:
            problems.append(
                f"kafka.image {self.image!r}: the platform renders and tests Kafka "
                f"{KAFKA_VERSION}; pin apache/kafka:{KAFKA_VERSION}"
            )
        if self.controller_count % 2 == 0:
            problems.append(
                f"kafka needs an odd number of controllers (a KRaft majority), got "
                f"{self.controller_count}"
            )
        brokers = self.broker_count
        durability = self.durability
        for key, factor in (
            ("defaultReplicationFactor", durability.default_replication_factor),
            ("offsetsTopicReplicationFactor", durability.offsets_topic_replication_factor),
            (
                "transactionStateLogReplicationFactor",
                durability.transaction_state_log_replication_factor,
            ),
        ):
            if factor > brokers:
                problems.append(f"kafka.durability.{key} {factor} exceeds the {brokers} broker(s)")
        seen: set[str] = set()
        for topic in self.topics:
            if topic.name in seen:
                problems.append(f"kafka.topics: {topic.name!r} is declared twice")
            seen.add(topic.name)
            factor = self.replication_factor(topic)
            if factor > brokers:
                problems.append(
                    f"kafka.topics[{topic.name}].replicationFactor {factor} exceeds the "
                    f"{brokers} broker(s)"
                )
            if self.min_insync_replicas(topic) > factor:
                problems.append(
                    f"kafka.topics[{topic.name}].minInsyncReplicas "
                    f"{self.min_insync_replicas(topic)} exceeds its replication factor {factor}"
                )
        return problems

    def replication_factor(self, topic: TopicSettings) -> int:
        """The replication factor `topic` gets: its own, else the cluster default."""
        return topic.replication_factor or self.durability.default_replication_factor

    def min_insync_replicas(self, topic: TopicSettings) -> int:
        """The `min.insync.replicas` `topic` gets: its own, else the cluster default."""
        return topic.min_insync_replicas or self.durability.min_insync_replicas

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """Raw section values (camelCase) `tier` starts from (`TIER_DEFAULTS`)."""
        return copy.deepcopy(dict(TIER_DEFAULTS[tier]))

    @property
    def highest_classification(self) -> DataClassification:
        """The most sensitive classification of any declared topic (`internal` without any):
        what the brokers' volumes hold, so what their workload is labelled."""
        found = [t.classification for t in self.topics]
        return max(found, key=CLASSIFICATION_ORDER.index, default=DataClassification.INTERNAL)

    def serve_problems(self, requirements: Sequence[Requirements]) -> list[str]:
        """Stream requirements this cluster cannot serve: undeclared topics, a consumer
        named like the admin user, or consumers under `mtls` (they get SCRAM credentials)."""
        declared = {t.name for t in self.topics}
        problems: list[str] = []
        for needs in requirements:
            if needs.stream is None:
                continue
            unknown = sorted({*needs.stream.read, *needs.stream.write} - declared)
            if unknown:
                problems.append(
                    f"{needs.consumer} reads or writes topics {unknown} that kafka.topics "
                    f"does not declare (declared: {sorted(declared)}): declare them, or fix "
                    f"the topic names in the {needs.consumer} section"
                )
            if needs.consumer == self.admin_user:
                problems.append(
                    f"kafka.adminUser {self.admin_user!r} is also a consumer's principal; "
                    "pick another admin user name"
                )
            if self.listeners.client_authentication is ClientAuthentication.MTLS:
                problems.append(
                    f"kafka.listeners.clientAuthentication 'mtls': {needs.consumer} needs a "
                    "stream, and consumers are issued SCRAM credentials; use 'scram-sha-512'"
                )
        return problems

    def tier_problems(self, tier: Tier) -> list[str]:
        """What `tier` requires beyond the schema (test/prod: authenticated TLS; prod: durable)."""
        if tier is Tier.DEV:
            return []
        problems = self._security_problems(tier)
        if tier is Tier.PROD:
            problems += self._durability_problems()
        return problems

    def _security_problems(self, tier: Tier) -> list[str]:
        listeners = self.listeners
        problems: list[str] = []
        if listeners.client_authentication is ClientAuthentication.NONE:
            problems.append(
                f"kafka.listeners.clientAuthentication must be 'scram-sha-512' or 'mtls' in a "
                f"{tier.value} stack (a PLAINTEXT client listener lets anyone read and write)"
            )
        if not listeners.tls:
            problems.append(
                f"kafka.listeners.tls must be true in a {tier.value} stack "
                "(records and credentials cross the network)"
            )
        if self.mode is not KafkaMode.SEPARATED:
            problems.append(
                f"kafka.mode must be 'separated' in a {tier.value} stack (brokers beside a "
                "dedicated controller quorum)"
            )
        if self.broker_count < 3 or self.controller_count < 3:
            problems.append(
                f"kafka needs at least 3 brokers and 3 controllers in a {tier.value} stack, "
                f"got {self.broker_count} and {self.controller_count}"
            )
        return problems

    def _durability_problems(self) -> list[str]:
        d = self.durability
        minimums = {
            "defaultReplicationFactor": (d.default_replication_factor, 3),
            "minInsyncReplicas": (d.min_insync_replicas, 2),
            "offsetsTopicReplicationFactor": (d.offsets_topic_replication_factor, 3),
            "transactionStateLogReplicationFactor": (
                d.transaction_state_log_replication_factor,
                3,
            ),
            "transactionStateLogMinIsr": (d.transaction_state_log_min_isr, 2),
        }
        problems = [
            f"kafka.durability.{key} must be at least {minimum} in a prod stack, got {value}"
            for key, (value, minimum) in minimums.items()
            if value < minimum
        ]
        if d.unclean_leader_election:
            problems.append(
                "kafka.durability.uncleanLeaderElection must be false in a prod stack "
                "(an out-of-sync replica becoming leader loses acknowledged writes)"
            )
        for topic in self.topics:
            factor = self.replication_factor(topic)
            isr = self.min_insync_replicas(topic)
            if factor < 3:
                problems.append(
                    f"kafka.topics[{topic.name}].replicationFactor must be at least 3 in a "
                    f"prod stack, got {factor}"
                )
            if isr < 2:
                problems.append(
                    f"kafka.topics[{topic.name}].minInsyncReplicas must be at least 2 in a "
                    f"prod stack, got {isr}"
                )
        return problems

    @classmethod
    def for_tier(cls, tier: Tier, section: Mapping[str, Any]) -> KafkaSettings:
        """Validate a stack's `kafka` section (camelCase keys) over `tier`'s defaults.

        Raises `ValueError` listing every problem, each naming its `kafka.` key path.
        """
        return validate_for_tier(cls, "kafka", TIER_DEFAULTS[tier], section, tier)


TIER_DEFAULTS: Mapping[Tier, Mapping[str, Any]] = {
    # dev: one combined node on the Docker engine, loopback only, nothing replicated.
    Tier.DEV: {
        "mode": "combined",
        "brokers": {
            "replicas": 1,
            "volumeSize": "5Gi",
            "heapMegabytes": 512,
            "resources": {
                "cpuRequest": "250m",
                "cpuLimit": "1",
                "memoryRequest": "1Gi",
                "memoryLimit": "1Gi",
            },
        },
        "listeners": {"clientAuthentication": "none", "tls": False},
        "durability": {
            "defaultReplicationFactor": 1,
            "minInsyncReplicas": 1,
            "offsetsTopicReplicationFactor": 1,
            "transactionStateLogReplicationFactor": 1,
            "transactionStateLogMinIsr": 1,
        },
    },
    # test and prod: the schema's defaults (the production shape).
    Tier.TEST: {},
    Tier.PROD: {},
}
"""What each tier changes from the schema's (production) defaults; a stack's section wins."""
