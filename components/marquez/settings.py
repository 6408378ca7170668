"""Marquez settings: the typed `marquez` section of a stack, with secure defaults per tier.

Marquez is the platform's lineage store: an API (Dropwizard, OpenLineage `POST
/api/v1/lineage`, health on the admin port) and a web UI, over its own PostgreSQL database.
The schema's defaults are the production shape (two API and two web replicas, 90 days of
lineage events kept, migrations on start, GraphQL off); `TIER_DEFAULTS` loosens them for dev
and test in one place. `MarquezSettings.for_tier` merges a stack's section over its tier's
defaults, validates it and applies `tier_problems`.

Upstream: MarquezProject/marquez 0.51.1 (`marquez.example.yml`, `MarquezConfig`,
`jobs/DbRetentionConfig`: `dbRetention.frequencyMins`, `numberOfRowsPerBatch`,
`retentionDays`, each `@Positive`; defaults 15, 1000, 7), images on Docker Hub
`marquezproject/marquez` and `marquezproject/marquez-web` (the Helm chart pins both to one
tag).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, model_validator

from components.common import PinnedImage, ResourceSettings, image_version
from components.postgres.access import Identifier
from components.runtime.stack import DnsLabel, SettingsModel, Tier
from components.tier_defaults import validate_for_tier

MARQUEZ_VERSION = "0.51.1"
"""The Marquez release the stacks pin (API and web images carry the same tag). Newest
upstream release as of late 2026 (tag 0.51.1, 2025-03-27; the Helm chart pins it too)."""
API_REPOSITORY = "marquezproject/marquez"
WEB_REPOSITORY = "marquezproject/marquez-web"
MARQUEZ_IMAGE = f"{API_REPOSITORY}:{MARQUEZ_VERSION}"
MARQUEZ_WEB_IMAGE = f"{WEB_REPOSITORY}:{MARQUEZ_VERSION}"

MAX_RETENTION_DAYS = 3650
PROD_MIN_RETENTION_DAYS = 30  # stewards trace a bad number back through a month of runs
PROD_MIN_API_REPLICAS = 2  # pipelines and Trino post events on every run: no single point
WEB_ADMIN_PORT = 3000  # Kubernetes: marks the UI's port as admitted from the admin CIDRs


class LogLevel(StrEnum):
    """Dropwizard/Logback root levels the platform allows (DEBUG and TRACE log SQL binds)."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class RetentionSettings(SettingsModel):
    """How long Marquez keeps lineage events, runs and dataset versions (`dbRetention`)."""

    retention_days: int = Field(default=90, ge=1, le=MAX_RETENTION_DAYS)
    frequency_mins: int = Field(default=15, ge=1, le=24 * 60)  # how often the purge runs
    number_of_rows_per_batch: int = Field(default=1000, ge=1, le=100_000)  # rows per DELETE


class MarquezSettings(SettingsModel):
    """The `marquez` section of a stack: images, replicas, retention, database, namespace."""

    image: PinnedImage = MARQUEZ_IMAGE
    web_image: PinnedImage = MARQUEZ_WEB_IMAGE
    api_replicas: int = Field(default=2, ge=1, le=10)
    web_replicas: int = Field(default=2, ge=1, le=10)
    retention: RetentionSettings = RetentionSettings()
    migrate_on_startup: bool = True  # Flyway migrates under its own lock; replicas may race
    graphql: bool = False  # the web UI uses REST only; GraphQL is one more open query surface
    log_level: LogLevel = LogLevel.INFO
    # Its own database, created with a login of the same name by the database producer
    # (a `DatabaseNeed`: components/marquez/requirements.py).
    database: Identifier = "marquez"
    namespace: DnsLabel | None = None  # OpenLineage job namespace; None: `dataplatform-<env>`
    # The web UI as the operator's admin port: Docker publishes it on 127.0.0.1:<port>,
    # Kubernetes admits the stack's admin CIDRs to it. None: reachable in-platform only.
    web_admin_host_port: int | None = Field(default=None, ge=1024, le=65535)
    api_resources: ResourceSettings = ResourceSettings(
        cpu_request="250m", cpu_limit="1", memory_request="768Mi", memory_limit="1Gi"
    )
    web_resources: ResourceSettings = ResourceSettings(
        cpu_request="50m", cpu_limit="500m", memory_request="128Mi", memory_limit="256Mi"
    )

    @model_validator(mode="after")
    def _images_match(self) -> Self:
        problems = self.image_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def image_problems(self) -> list[str]:
        """Rules of any tier: the right repositories, one tag for both, the tested release."""
        problems: list[str] = []
        for key, image, repository in (
            ("image", self.image, API_REPOSITORY),
            ("webImage", self.web_image, WEB_REPOSITORY),
        ):
            found = _repository(image).removeprefix("docker.io/")
            if found != repository:
                problems.append(f"marquez.{key} {image!r}: expected the {repository} image")
        api, web = image_version(self.image), image_version(self.web_image)
        if api != web:
            problems.append(
                f"marquez.image and marquez.webImage must carry the same version (the web UI "
                f"speaks its own release's API), got {api!r} and {web!r}"
            )
        elif api != MARQUEZ_VERSION:
            problems.append(
                f"marquez.image {self.image!r}: the platform renders and tests Marquez "
                f"{MARQUEZ_VERSION}; pin {MARQUEZ_IMAGE} and {MARQUEZ_WEB_IMAGE}"
            )
        return problems

    def job_namespace(self, environment: str) -> str:
        """The OpenLineage job namespace of this stack's pipelines and queries."""
        return self.namespace or f"dataplatform-{environment}"

    def tier_problems(self, tier: Tier) -> list[str]:
        """What `tier` requires beyond the schema (prod: redundant API, a month of lineage,
        migrations on start so a new release never serves an old schema)."""
        if tier is not Tier.PROD:
            return []
        problems: list[str] = []
        if self.api_replicas < PROD_MIN_API_REPLICAS:
            problems.append(
                f"marquez.apiReplicas must be at least {PROD_MIN_API_REPLICAS} in a prod stack, "
                f"got {self.api_replicas}"
            )
        if self.retention.retention_days < PROD_MIN_RETENTION_DAYS:
            problems.append(
                f"marquez.retention.retentionDays must be at least {PROD_MIN_RETENTION_DAYS} in "
                f"a prod stack, got {self.retention.retention_days}"
            )
        if not self.migrate_on_startup:
            problems.append("marquez.migrateOnStartup must be true in a prod stack")
        return problems

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """Raw section values (camelCase) `tier` starts from (`TIER_DEFAULTS`, a fresh copy);
        `infra/config.py` merges a stack file's section over them."""
        return copy.deepcopy(dict(TIER_DEFAULTS[tier]))

    @classmethod
    def for_tier(cls, tier: Tier, section: Mapping[str, Any]) -> MarquezSettings:
        """Validate a stack's `marquez` section (camelCase keys) over `tier`'s defaults.

        Raises `ValueError` listing every problem, each naming its `marquez.` key path.
        """
        return validate_for_tier(cls, "marquez", cls.tier_defaults(tier), section, tier)


def _repository(image: str) -> str:
    """`registry:port/repo:tag@digest` -> `registry:port/repo`."""
    name = image.partition("@")[0]
    colon = name.rfind(":")
    return name[:colon] if colon > name.rfind("/") else name


TIER_DEFAULTS: Mapping[Tier, Mapping[str, Any]] = {
    # dev: one of each on the Docker engine, a week of lineage, the UI on 127.0.0.1:13300.
    Tier.DEV: {
        "apiReplicas": 1,
        "webReplicas": 1,
        "retention": {"retentionDays": 7},
        "webAdminHostPort": 13300,
    },
    # test: one of each, a fortnight of lineage (enough to compare two release cycles).
    Tier.TEST: {
        "apiReplicas": 1,
        "webReplicas": 1,
        "retention": {"retentionDays": 14},
        "webAdminHostPort": WEB_ADMIN_PORT,
    },
    # prod: the schema's defaults; the UI admitted from the admin CIDRs.
    Tier.PROD: {"webAdminHostPort": WEB_ADMIN_PORT},
}
"""What each tier changes from the schema's (production) defaults; a stack's section wins."""
