"""MinIO settings: the buckets, their lifecycle rules and the operator's service users."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from components.common import (
    DataClassification,
    PinnedImage,
    ResourceSettings,
    VolumeSize,
)
from components.contracts import Requirements
from components.runtime.stack import SettingsModel, Tier

REQUIRED_BUCKETS = ("bronze", "silver", "gold", "audit", "backups")
AUDIT_BUCKET = "audit"
MAX_LIFECYCLE_DAYS = 36500

BucketName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Days = Annotated[int, Field(ge=1, le=MAX_LIFECYCLE_DAYS)]


class LifecycleRule(SettingsModel):
    """One ILM rule: expire current objects and/or noncurrent versions under a prefix."""

    id: RuleId
    prefix: str = Field(default="", pattern=r"^([A-Za-z0-9_.-]+/)*$")
    expire_days: Days | None = None
    noncurrent_expire_days: Days | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Self:
        if self.expire_days is None and self.noncurrent_expire_days is None:
            raise ValueError(
                f"lifecycle rule {self.id!r} sets neither expireDays nor noncurrentExpireDays"
            )
        return self


class BucketSettings(SettingsModel):
    """One bucket: its short name, classification, versioning, locking and lifecycle."""

    name: BucketName
    classification: DataClassification
    versioning: bool = True
    object_locking: bool = False
    lifecycle: tuple[LifecycleRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.object_locking and not self.versioning:
            raise ValueError(f"bucket {self.name!r}: objectLocking needs versioning")
        ids = [rule.id for rule in self.lifecycle]
        if len(ids) != len(set(ids)):
            raise ValueError(f"bucket {self.name!r}: lifecycle rule ids must be unique, got {ids}")
        if self.name == AUDIT_BUCKET and any(r.expire_days for r in self.lifecycle):
            raise ValueError("the audit bucket keeps its objects: its rules may not set expireDays")
        return self


class BucketAccess(StrEnum):
    """What a service user may do in one bucket."""

    READ = "read"
    READ_WRITE = "read-write"
    WRITE_ONLY = "write-only"


class BucketGrant(SettingsModel):
    """Access of one service user to one bucket (optionally only under a prefix)."""

    bucket: BucketName
    access: BucketAccess
    prefix: str = Field(default="", pattern=r"^([A-Za-z0-9_.-]+/)*$")


class ServiceUser(SettingsModel):
    """A MinIO user for one consumer (e.g. `trino`, `backup`) with least-privilege grants."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,30}$")]
    grants: tuple[BucketGrant, ...] = Field(min_length=1)


class ObjectStoreSettings(SettingsModel):
    """MinIO server size and image, the buckets and the service users of one stack."""

    image: PinnedImage
    resources: ResourceSettings
    volume_size: VolumeSize
    buckets: tuple[BucketSettings, ...]
    users: tuple[ServiceUser, ...] = ()
    run_as_user: int = Field(default=1000, ge=1)
    tls: bool = Field(
        default=True,
        description="serve S3 and the console over HTTPS (required outside dev)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [bucket.name for bucket in self.buckets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"bucket names must be unique, repeated: {duplicates}")
        missing = [n for n in REQUIRED_BUCKETS if n not in names]
        if missing:
            raise ValueError(f"buckets {missing} are required (lake layers, audit, backups)")
        users = [user.name for user in self.users]
        if len(users) != len(set(users)):
            raise ValueError(f"service user names must be unique, got {users}")
        for user in self.users:
            for grant in user.grants:
                if grant.bucket not in names:
                    raise ValueError(
                        f"user {user.name!r} is granted unknown bucket {grant.bucket!r}"
                    )
        return self

    def serve_problems(self, requirements: Sequence[Requirements]) -> list[str]:
        """Consumers' bucket needs this store cannot serve: unknown buckets, clashing users."""
        names = {bucket.name for bucket in self.buckets}
        users = {user.name for user in self.users}
        problems = []
        for needs in requirements:
            if not needs.buckets:
                continue
            if needs.consumer in users:
                problems.append(
                    f"objectStore.users: {needs.consumer!r} is the user of the {needs.consumer} "
                    "service, made from its requirements: remove it from config"
                )
            problems += [
                f"{needs.consumer} needs bucket {need.bucket!r}, not in objectStore.buckets"
                for need in needs.buckets
                if need.bucket not in names
            ]
        return problems

    def tier_problems(self, tier: Tier) -> list[str]:
        """What this tier requires beyond the schema: TLS wherever credentials travel."""
        if tier is not Tier.DEV and not self.tls:
            return [
                f"objectStore.tls must be true in a {tier.value} stack (S3 carries credentials)"
            ]
        return []
