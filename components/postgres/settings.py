"""PostgreSQL settings: the typed `postgres` section of a stack, with secure defaults per tier.

The schema's defaults are the production ones (pgaudit `ddl, role, write` with relation
names and without bind parameters, TLS required with a generated certificate, the
tuning of `ServerTuning`). The access model, equal in every tier, is written once in
`defaults.yaml`. `PostgresSettings.tier_defaults` returns both plus what a tier changes
(dev loosens audit and TLS, explicitly, in `TIER_CHANGES`); `infra/config.py` merges the
stack file's section over them, so a stack file holds only its sizes, image and hosts.
`tier_problems` refuses what a tier may not loosen, whatever the stack file says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from components.common import DataClassification, PinnedImage, ResourceSettings, VolumeSize
from components.postgres.access import AccessSettings
from components.postgres.paths import container_paths
from components.postgres.server_config import (
    MINIMUM_AUDIT_CLASSES,
    AuditSettings,
    ServerPaths,
    ServerTuning,
    TlsSettings,
    missing_audit_classes,
    render_pg_hba,
    render_postgresql_conf,
)
from components.runtime.stack import SettingsModel, Tier
from components.tier_defaults import load_defaults, merged

DEFAULTS_FILE = Path(__file__).with_name("defaults.yaml")
"""Governance shared by every tier (raw camelCase section values): the access model."""

TIER_CHANGES: dict[Tier, dict[str, Any]] = {
    # dev: a laptop's Docker engine on loopback, no real data: the dev minimum of audit
    # classes without relation names, bind parameters logged for debugging, no TLS.
    Tier.DEV: {
        "audit": {"classes": ["ddl", "role"], "logRelation": False, "logParameter": True},
        "tls": {"required": False},
    },
    # test: prod's audit and TLS, but bind parameters stay in the audit log (prod drops
    # them: they can carry personal data into the log).
    Tier.TEST: {"audit": {"logParameter": True}},
    Tier.PROD: {},
}
"""What each tier changes from the schema's (production) defaults; a stack's section wins."""

RoleName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]


class PostgresSettings(SettingsModel):
    """Server image and size, audit, TLS, tuning and the access model of one stack."""

    image: PinnedImage
    resources: ResourceSettings
    volume_size: VolumeSize
    classification: DataClassification = DataClassification.RESTRICTED
    admin_user: RoleName = "postgres"
    run_as_user: int = Field(default=26, ge=1)  # the CloudNativePG images' postgres uid
    audit: AuditSettings = AuditSettings()
    tls: TlsSettings = TlsSettings()
    server: ServerTuning = ServerTuning()
    access: AccessSettings

    @classmethod
    def tier_defaults(cls, tier: Tier) -> dict[str, Any]:
        """Raw section values (camelCase) `tier` starts from: the shared access model of
        `defaults.yaml`, then the tier's `TIER_CHANGES`."""
        return merged(load_defaults(DEFAULTS_FILE), TIER_CHANGES[tier])

    @model_validator(mode="after")
    def _admin_is_not_a_platform_role(self) -> Self:
        names = {d.name for d in self.access.databases} | {x.name for x in self.access.logins}
        if self.admin_user in names:
            raise ValueError(f"adminUser {self.admin_user!r} clashes with a database/login role")
        return self

    def tier_problems(self, tier: Tier) -> list[str]:
        """What this stack's tier requires and these settings lack (key paths included)."""
        problems = []
        missing = missing_audit_classes(self.audit.classes, tier)
        if missing:
            problems.append(
                f"postgres.audit.classes: the {tier.value} tier must audit at least "
                f"{sorted(c.value for c in MINIMUM_AUDIT_CLASSES[tier])}; missing {missing}"
            )
        if tier is Tier.PROD and not self.tls.required:
            problems.append("postgres.tls.required: prod requires TLS for client connections")
        return problems

    def postgresql_conf(self, paths: ServerPaths) -> str:
        """The server's `postgresql.conf` with these settings and `paths`."""
        return render_postgresql_conf(
            audit=self.audit, tls=self.tls, tuning=self.server, paths=paths
        )

    def pg_hba_conf(self) -> str:
        """The server's `pg_hba.conf`."""
        return render_pg_hba(tls=self.tls, admin_user=self.admin_user)

    def container_paths(self) -> ServerPaths:
        """Paths inside the container (TLS files only when TLS is required)."""
        return container_paths(tls=self.tls.required)
