"""Settings of the Dagster orchestrator of one stack (the `dagster` section of stack config).

What they describe: the webserver and the single daemon (one pinned `dagster/dagster-k8s`
image), the user-code locations (each a gRPC server: name, pinned image, Python module or
package, replicas), the run queue (`QueuedRunCoordinator` limits), run monitoring,
schedule/sensor tick retention, the size of launched runs, and the Docker socket proxy the
daemon launches runs through on Docker. Telemetry is always off and has no setting.

Defaults are the production ones; `tier_problems` says what a tier requires beyond the
schema. Upstream reference: https://docs.dagster.io/deployment/oss/dagster-yaml
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, model_validator

from components.common import PinnedImage, ResourceSettings
from components.postgres.access import Identifier
from components.runtime.stack import DnsLabel, SettingsModel, Tier

DAGSTER_VERSION = "1.13.27"
"""The Dagster core release the images and the test installation pin (libraries: 0.29.27)."""
DAGSTER_IMAGE = f"dagster/dagster-k8s:{DAGSTER_VERSION}"
SOCKET_PROXY_IMAGE = "wollomatic/socket-proxy:1.13.1"
"""The Docker socket proxy between the daemon and the engine (docs/dagster.md says why)."""
GRPC_PORT = 4000
MAX_RETENTION_DAYS = 3650
PROD_MIN_FAILURE_RETENTION_DAYS = 30

PythonModule = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", max_length=200)
]
"""A dotted Python module or package name such as `pipelines.definitions`."""
RetentionDays = Annotated[int, Field(ge=1, le=MAX_RETENTION_DAYS)]


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
    """The UI and GraphQL server; stateless, so it may run several replicas."""

    replicas: int = Field(default=2, ge=1, le=10)
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
    run_as_user: int = Field(default=1000, ge=1)


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
    run_as_user: int = Field(default=1000, ge=1)  # uid of webserver, daemon, code servers

    @model_validator(mode="after")
    def _unique_locations(self) -> Self:
        names = [location.name for location in self.code_locations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"codeLocations: duplicate location names {duplicates}")
        return self

    def tier_problems(self, tier: Tier) -> list[str]:
        """What `tier` requires beyond the schema, each naming its `dagster.` key path."""
        problems: list[str] = []
        if tier is not Tier.DEV and not self.run_monitoring.enabled:
            problems.append(f"dagster.runMonitoring.enabled must be true in a {tier.value} stack")
        if tier is Tier.PROD:
            if self.webserver.replicas < 2:
                problems.append("dagster.webserver.replicas must be at least 2 in prod")
            for kind in ("schedule", "sensor"):
                days = getattr(self.retention, kind).failure
                if days < PROD_MIN_FAILURE_RETENTION_DAYS:
                    problems.append(
                        f"dagster.retention.{kind}.failure must keep failed ticks at least "
                        f"{PROD_MIN_FAILURE_RETENTION_DAYS} days in prod, got {days}"
                    )
        return problems
