"""Settings of the Dagster orchestrator of one stack (the `dagster` section of stack config).

What they describe: the webserver and the single daemon (one pinned `dagster/dagster-k8s`
image), the user-code locations (each a gRPC server: name, pinned image, Python module or
package, replicas), the run queue (`QueuedRunCoordinator` limits), run monitoring,
schedule/sensor tick retention, the size of launched runs, the Docker socket proxy the
daemon launches runs through on Docker, what user code may reach (lake buckets, Kafka
topics) and where run-failure alerts go (a Slack webhook, a Pulumi config secret).
Telemetry is always off and has no setting.

Defaults are the production ones; `tier_defaults` loosens dev in one place and
`tier_problems` says what a tier requires beyond the schema.
Upstream reference: https://docs.dagster.io/deployment/oss/dagster-yaml
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, SecretStr, model_validator

from components.common import PinnedImage, ResourceSettings
from components.contracts import BucketAccessLevel
from components.object_store.settings import BucketName
from components.postgres.access import Identifier
from components.runtime.stack import DnsLabel, SettingsModel, Tier

DAGSTER_VERSION = "1.13.27"
"""The Dagster core release the images and the test installation pin (libraries: 0.29.27)."""
DAGSTER_IMAGE = f"dagster/dagster-k8s:{DAGSTER_VERSION}"
SOCKET_PROXY_IMAGE = "wollomatic/socket-proxy:1.13.1"
"""The Docker socket proxy between the daemon and the engine (docs/dagster.md says why)."""
GRPC_PORT = 4000
DAGSTER_UID = 10001
"""uid of every Dagster process and run: high, so it never matches a host user (the image
needs none of its own: Dagster reads its install and writes only to scratch dirs)."""
MAX_RETENTION_DAYS = 3650
PROD_MIN_FAILURE_RETENTION_DAYS = 30

PythonModule = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=200)
]
"""A dotted Python module or package name such as `pipelines.definitions`."""
RetentionDays = Annotated[int, Field(ge=1, le=MAX_RETENTION_DAYS)]
TopicName = Annotated[
    str,
    Field(min_length=1, max_length=249, pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$"),
]
"""A Kafka topic the stack declares (its `kafka.topics`; the stream producer checks it)."""

_DEV_RESOURCES = {
    "cpuRequest": "100m",
    "cpuLimit": "500m",
    "memoryRequest": "256Mi",
    "memoryLimit": "768Mi",
}
TIER_CHANGES: dict[Tier, dict[str, Any]] = {
    # dev: one webserver on a laptop (the UI on 127.0.0.1:13000), a short queue, ticks
    # kept a week at most.
    Tier.DEV: {
        "webserver": {"replicas": 1, "resources": _DEV_RESOURCES, "adminHostPort": 13000},
        "daemon": {"resources": _DEV_RESOURCES},
        "runQueue": {"maxConcurrentRuns": 4},
        "retention": {
            "schedule": {"skipped": 1, "success": 7, "failure": 7},
            "sensor": {"skipped": 1, "success": 7, "failure": 7},
        },
    },
    # test: prod's shape with one webserver and shorter tick history.
    Tier.TEST: {
        "webserver": {"replicas": 1},
        "retention": {
            "schedule": {"skipped": 3, "success": 14, "failure": 30},
            "sensor": {"skipped": 3, "success": 14, "failure": 30},
        },
    },
    Tier.PROD: {},
}
"""What each tier changes from the schema's (production) defaults; a stack's section wins."""


def _resources(cpu: str, cpu_limit: str, memory: str, memory_limit: str) -> ResourceSettings:
    return ResourceSettings(
        cpu_request=cpu, cpu_limit=cpu_limit, memory_request=memory, memory_limit=memory_limit
    )


class CodeLocation(SettingsModel):
    """One user-code location: a `dagster api grpc` server the webserver and daemon load."""

    name: DnsLabel
    image: PinnedImage
    module: PythonModule | None = None
    package: PythonModule | None = None
    replicas: int = Field(default=1, ge=1, le=10)
    resources: ResourceSettings = _resources("100m", "1", "256Mi", "1Gi")

    @model_validator(mode="after")
    def _one_entry_point(self) -> Self:
        if (self.module is None) == (self.package is None):
            raise ValueError(
                f"code location {self.name!r}: set exactly one of 'module' or 'package'"
            )
        return self


class WebserverSettings(SettingsModel):
    """The UI and GraphQL server; stateless, so it may run several replicas.

    `adminHostPort`: publish the UI as the operator's admin port (Docker: on
    127.0.0.1:<port>; Kubernetes: admitted from the admin CIDRs, reached by port-forward).
    """

    replicas: int = Field(default=2, ge=1, le=10)
    admin_host_port: int | None = Field(default=None, ge=1024, le=65535)
    resources: ResourceSettings = _resources("250m", "1", "512Mi", "1Gi")


class DaemonSettings(SettingsModel):
    """The daemon (run queue, schedules, sensors, run monitoring); Dagster allows one."""

    replicas: int = 1
    resources: ResourceSettings = _resources("250m", "1", "512Mi", "1Gi")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if self.replicas != 1:
            raise ValueError(
                f"daemon.replicas must be 1, got {self.replicas}: Dagster supports exactly "
                "one daemon per instance (two would launch queued runs twice)"
            )
        return self


class TagConcurrencyLimit(SettingsModel):
    """At most `limit` runs at once with tag `key` (equal to `value`, or per unique value)."""

    key: str = Field(min_length=1, max_length=128)
    value: str | None = Field(default=None, min_length=1, max_length=256)
    per_unique_value: bool = False
    limit: int = Field(ge=1, le=1000)

    @model_validator(mode="after")
    def _value_or_per_value(self) -> Self:
        if self.value is not None and self.per_unique_value:
            raise ValueError(
                f"tag limit {self.key!r}: 'value' and 'perUniqueValue' exclude each other"
            )
        return self

    @property
    def selector(self) -> tuple[str, str | None, bool]:
        """What the limit applies to; two limits on the same selector contradict each other."""
        return (self.key, self.value, self.per_unique_value)


class RunQueue(SettingsModel):
    """`QueuedRunCoordinator` limits: runs in progress at once, overall and per tag."""

    max_concurrent_runs: int = Field(default=10, ge=1, le=1000)
    tag_concurrency_limits: tuple[TagConcurrencyLimit, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        seen: set[tuple[str, str | None, bool]] = set()
        for limit in self.tag_concurrency_limits:
            if limit.selector in seen:
                raise ValueError(f"tagConcurrencyLimits: duplicate limit for tag {limit.key!r}")
            seen.add(limit.selector)
            if limit.limit > self.max_concurrent_runs:
                raise ValueError(
                    f"tagConcurrencyLimits: limit {limit.limit} for tag {limit.key!r} exceeds "
                    f"maxConcurrentRuns {self.max_concurrent_runs}, so it would never apply"
                )
        return self


class RunMonitoring(SettingsModel):
    """The daemon's run monitoring: fail runs that never start or whose worker vanished."""

    enabled: bool = True
    start_timeout_seconds: int = Field(default=180, ge=30, le=3600)
    cancel_timeout_seconds: int = Field(default=180, ge=30, le=3600)
    max_resume_run_attempts: int = Field(default=0, ge=0, le=10)
    poll_interval_seconds: int = Field(default=120, ge=5, le=600)


class TickRetention(SettingsModel):
    """Days to keep schedule or sensor ticks, per outcome (Dagster's `purge_after_days`)."""

    skipped: RetentionDays = 7
    success: RetentionDays = 30
    failure: RetentionDays = 90


class Retention(SettingsModel):
    """Tick retention of schedules and sensors; Dagster has no retention for runs."""

    schedule: TickRetention = TickRetention()
    sensor: TickRetention = TickRetention()


class RunSettings(SettingsModel):
    """Size and lifetime of each launched run (a Kubernetes Job or a Docker container)."""

    resources: ResourceSettings = _resources("250m", "2", "512Mi", "2Gi")
    finished_job_ttl_seconds: int = Field(default=86400, ge=60, le=7 * 86400)
    run_as_user: int = Field(default=DAGSTER_UID, ge=1)


class BucketGrant(SettingsModel):
    """What user code (and its runs) may do in one bucket of the stack's object store."""

    bucket: BucketName
    access: BucketAccessLevel


LAKE_GRANTS = tuple(
    BucketGrant(bucket=bucket, access=BucketAccessLevel.READ_WRITE)
    for bucket in ("bronze", "silver", "gold")
)
"""Pipelines land raw data in bronze and refine it into silver and gold."""


class StreamTopics(SettingsModel):
    """Kafka topics user code reads and writes (the stream producer grants exactly these)."""

    read: tuple[TopicName, ...] = ()
    write: tuple[TopicName, ...] = ()


class Alerts(SettingsModel):
    """Where run-failure alerts go. The webhook is a secret: set it with
    `pulumi config set --path --secret 'dagster.alerts.slackWebhook' <url>`; it reaches
    user code as a secret file only."""

    slack_webhook: SecretStr | None = None

    @model_validator(mode="after")
    def _not_blank(self) -> Self:
        # The value is never echoed: an error message is a log line.
        if self.slack_webhook is not None and not self.slack_webhook.get_secret_value().strip():
            raise ValueError("alerts.slackWebhook is empty: set it or leave the key out")
        return self


class DagsterSettings(SettingsModel):
    """Dagster of one stack: images, locations, run queue, monitoring, retention, run size."""

    image: PinnedImage = DAGSTER_IMAGE
    webserver: WebserverSettings = WebserverSettings()
    daemon: DaemonSettings = DaemonSettings()
    code_locations: tuple[CodeLocation, ...] = Field(min_length=1)
    run_queue: RunQueue = RunQueue()
    run_monitoring: RunMonitoring = RunMonitoring()
    retention: Retention = Retention()
    runs: RunSettings = RunSettings()
    database: Identifier = "dagster"  # also its owner login (the PostgreSQL access model)
    socket_proxy_image: PinnedImage = SOCKET_PROXY_IMAGE
    engine_socket_gid: int = Field(default=999, ge=1, le=2**31 - 1)
    """Group owning the engine's socket on the Docker host (`stat -c %g /var/run/docker.sock`):
    the socket proxy runs as nobody in this group, never as root."""
    run_as_user: int = Field(default=DAGSTER_UID, ge=1)  # uid of webserver, daemon, code servers
    buckets: tuple[BucketGrant, ...] = LAKE_GRANTS
    stream: StreamTopics | None = StreamTopics()
    """Kafka access of user code; None: the stack gives user code no Kafka principal."""
    alerts: Alerts = Alerts()
    s3_region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]{1,32}$")

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """Raw section values (camelCase) `tier` starts from (`TIER_CHANGES`)."""
        return TIER_CHANGES[tier]

    @model_validator(mode="after")
    def _unique_locations(self) -> Self:
        names = [location.name for location in self.code_locations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"codeLocations: duplicate location names {duplicates}")
        buckets = [grant.bucket for grant in self.buckets]
        if len(buckets) != len(set(buckets)):
            raise ValueError(f"buckets: each bucket once, got {buckets}")
        return self

    def tier_problems(self, tier: Tier) -> list[str]:
        """What `tier` requires beyond the schema, each naming its `dagster.` key path."""
        problems: list[str] = []
        if tier is not Tier.DEV and not self.run_monitoring.enabled:
            problems.append(f"dagster.runMonitoring.enabled must be true in a {tier.value} stack")
        if tier is Tier.PROD:
            if self.alerts.slack_webhook is None:
                problems.append(
                    "dagster.alerts.slackWebhook is required in prod (run failures must "
                    "alert someone): pulumi config set --path --secret "
                    "'dagster.alerts.slackWebhook' <url>"
                )
            if self.webserver.replicas < 2:
                problems.append("dagster.webserver.replicas must be at least 2 in prod")
            problems += [
                f"dagster.codeLocations[{location.name}].replicas must be at least 2 in prod "
                "(a single code server stops every schedule and sensor of it while it restarts)"
                for location in self.code_locations
                if location.replicas < 2
            ]
            for kind in ("schedule", "sensor"):
                days = getattr(self.retention, kind).failure
                if days < PROD_MIN_FAILURE_RETENTION_DAYS:
                    problems.append(
                        f"dagster.retention.{kind}.failure must keep failed ticks at least "
                        f"{PROD_MIN_FAILURE_RETENTION_DAYS} days in prod, got {days}"
                    )
        return problems
