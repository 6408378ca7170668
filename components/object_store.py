"""MinIO object store: the lake's buckets, their rules and the service users that may use them.

Creates: the MinIO server workload (stateful, one persistent volume, generated root
credentials); a pulumi-minio Provider built from the admin endpoint and those
credentials, waiting for the server; per bucket an `S3Bucket` named with the
environment, `S3BucketVersioning` and an `IlmPolicy`; per service user an `IamUser`
with a generated secret, an `IamPolicy` granting only its declared bucket access, and
the attachment between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Self

import pulumi
import pulumi_minio as minio
from pydantic import Field, model_validator

from components.common import (
    AdminEndpoint,
    DataClassification,
    PinnedImage,
    ResourceSettings,
    VolumeSize,
    image_version,
)
from components.runtime.base import Runtime
from components.runtime.stack import SettingsModel, StackSettings, Tier
from components.runtime.workload import (
    Endpoint,
    Port,
    Probe,
    ScratchDir,
    SecretFile,
    SecurityProfile,
    Volume,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from components.secrets import generated_password
from components.tls import ServerCertificate, generated_certificate

REQUIRED_BUCKETS = ("bronze", "silver", "gold", "audit", "backups")
AUDIT_BUCKET = "audit"
API_PORT = 9000
CONSOLE_PORT = 9001
SECRETS_DIR = "/run/secrets/minio"
ROOT_USER_FILE = f"{SECRETS_DIR}/root-user"
ROOT_PASSWORD_FILE = f"{SECRETS_DIR}/root-password"
TLS_DIR = "/etc/minio/tls"
CERTS_DIR = "/tmp/certs"
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


_ACTIONS: dict[BucketAccess, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (bucket-level actions, object-level actions)
    BucketAccess.READ: (("s3:GetBucketLocation", "s3:ListBucket"), ("s3:GetObject",)),
    BucketAccess.READ_WRITE: (
        ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"),
        (
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ),
    ),
    BucketAccess.WRITE_ONLY: (
        ("s3:GetBucketLocation",),
        ("s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:PutObject"),
    ),
}


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

    def tier_problems(self, tier: Tier) -> list[str]:
        """What this tier requires beyond the schema: TLS wherever credentials travel."""
        if tier is not Tier.DEV and not self.tls:
            return [
                f"objectStore.tls must be true in a {tier.value} stack (S3 carries credentials)"
            ]
        return []


def policy_document(stack: StackSettings, grants: Sequence[BucketGrant]) -> str:
    """The IAM policy JSON granting exactly `grants` on this stack's physical buckets."""
    statements: list[dict[str, object]] = []
    for grant in grants:
        bucket = stack.physical_name(grant.bucket)
        bucket_actions, object_actions = _ACTIONS[grant.access]
        statements.append(
            {
                "Sid": f"{grant.bucket}-{grant.access}-bucket".replace("-", ""),
                "Effect": "Allow",
                "Action": list(bucket_actions),
                "Resource": [f"arn:aws:s3:::{bucket}"],
            }
        )
        statements.append(
            {
                "Sid": f"{grant.bucket}-{grant.access}-objects".replace("-", ""),
                "Effect": "Allow",
                "Action": list(object_actions),
                "Resource": [f"arn:aws:s3:::{bucket}/{grant.prefix}*"],
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


class ObjectStore(pulumi.ComponentResource):
    """MinIO server, buckets with versioning and lifecycle, and least-privilege users."""

    endpoint: Endpoint
    root_user: pulumi.Output[str]
    root_password: pulumi.Output[str]
    bucket_names: dict[str, str]
    user_secrets: dict[str, pulumi.Output[str]]
    user_ready: dict[str, pulumi.Resource]
    """Per service user, the resource after which its key works with its grants."""

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: ObjectStoreSettings,
        runtime: Runtime,
        admin: AdminEndpoint | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("dataplatform:storage:ObjectStore", name, None, opts)
        self._stack = stack
        self.root_user = pulumi.Output.secret("platform-admin")
        self.root_password = generated_password(f"{name}-root-password", parent=self)
        self.certificate = self._certificate(name, settings, runtime, admin)
        workload = self._workload(settings, admin, self.certificate)
        deployed = runtime.deploy(workload, parent=self)
        api = deployed.endpoint("api")
        self.endpoint = Endpoint(
            host=api.host, port=api.port, scheme="https" if settings.tls else "http"
        )
        # Reached from where `pulumi up` runs, through a way in the same deploy creates.
        address = runtime.control_plane_address(
            workload,
            deployed,
            port_name="api",
            parent=self,
            fixed_host=admin.host if admin else None,
        )
        provider = minio.Provider(
            f"{name}-provider",
            minio_server=pulumi.Output.concat(address.host, f":{address.port}"),
            minio_user=self.root_user,
            minio_password=self.root_password,
            # The server's own setting decides: the provider never sends the root
            # credentials in clear text to a server that speaks TLS, or vice versa.
            minio_ssl=settings.tls,
            # A generated certificate is self-signed: the link is encrypted, not verified
            # (as PostgreSQL's sslmode=require); see docs/architecture.md.
            minio_insecure=settings.tls,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The provider connects lazily; what it manages waits for the server itself, so
        # the provider adds no step to the deploy graph's longest chain.
        server = list(address.ready)
        managed = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=server)
        stateful = pulumi.ResourceOptions.merge(
            managed, pulumi.ResourceOptions(protect=stack.is_prod)
        )
        self.bucket_names = {}
        for bucket in settings.buckets:
            self.bucket_names[bucket.name] = self._bucket(name, bucket, managed, stateful)
        self.user_secrets = {}
        self.user_ready = {}
        for user in settings.users:
            self.user_secrets[user.name] = self._user(name, user, managed)
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "buckets": self.bucket_names,
                "users": sorted(self.user_secrets),
            }
        )

    def _workload(
        self,
        settings: ObjectStoreSettings,
        admin: AdminEndpoint | None,
        certificate: ServerCertificate | None,
    ) -> Workload:
        secret_files = [
            SecretFile(path=ROOT_USER_FILE, content=self.root_user),
            SecretFile(path=ROOT_PASSWORD_FILE, content=self.root_password),
        ]
        if certificate is not None:
            secret_files += [
                SecretFile(path=f"{TLS_DIR}/public.crt", content=certificate.cert_pem),
                SecretFile(path=f"{TLS_DIR}/private.key", content=certificate.key_pem),
            ]
        probe_cmd = ("mc", "ready", "local", *(("--insecure",) if certificate else ()))
        scheme = "https" if certificate else "http"
        return Workload(
            identity=self._identity(settings),
            kind=WorkloadKind.STATEFUL,
            image=settings.image,
            command=("/bin/sh", "-c", start_script(tls=certificate is not None), "minio"),
            args=(
                "server",
                "/data",
                "--address",
                f":{API_PORT}",
                "--console-address",
                f":{CONSOLE_PORT}",
                *(("--certs-dir", CERTS_DIR) if certificate else ()),
            ),
            ports=(
                Port(
                    name="api",
                    container_port=API_PORT,
                    admin_host_port=admin.port if admin else API_PORT,
                ),
                Port(name="console", container_port=CONSOLE_PORT),
            ),
            env={
                "MINIO_BROWSER_REDIRECT": "off",
                "HOME": "/tmp",
                "MC_CONFIG_DIR": "/tmp/.mc",
                # `mc ready local` reads its alias from here: the server's own scheme.
                "MC_HOST_local": f"{scheme}://127.0.0.1:{API_PORT}",
                "MINIO_ROOT_USER_FILE": ROOT_USER_FILE,
                "MINIO_ROOT_PASSWORD_FILE": ROOT_PASSWORD_FILE,
            },
            secret_files=tuple(secret_files),
            volumes=(Volume(name="data", mount_path="/data", size=settings.volume_size),),
            scratch=(ScratchDir(name="tmp", mount_path="/tmp"),),
            resources=settings.resources.to_resources(),
            readiness=Probe(port=API_PORT, path="/minio/health/ready", exec_command=probe_cmd),
            liveness=Probe(port=API_PORT, path="/minio/health/live", exec_command=probe_cmd),
            startup=Probe(
                port=API_PORT,
                exec_command=probe_cmd,
                initial_delay_seconds=5,
                period_seconds=5,
                failure_threshold=60,
            ),
            security=SecurityProfile(
                run_as_user=settings.run_as_user,
                run_as_group=settings.run_as_user,
                fs_group=settings.run_as_user,
            ),
            data_classification=_highest(b.classification for b in settings.buckets),
        )

    @staticmethod
    def _identity(settings: ObjectStoreSettings) -> WorkloadIdentity:
        return WorkloadIdentity(
            service="minio", component="server", version=image_version(settings.image)
        )

    def _bucket(
        self,
        name: str,
        bucket: BucketSettings,
        managed: pulumi.ResourceOptions,
        stateful: pulumi.ResourceOptions,
    ) -> str:
        physical = self._stack.physical_name(bucket.name)
        resource = minio.S3Bucket(
            f"{name}-bucket-{bucket.name}",
            bucket=physical,
            acl="private",
            object_locking=bucket.object_locking,
            force_destroy=False,
            opts=stateful,
        )
        depends = pulumi.ResourceOptions.merge(
            managed, pulumi.ResourceOptions(depends_on=[resource])
        )
        minio.S3BucketVersioning(
            f"{name}-bucket-{bucket.name}-versioning",
            bucket=resource.bucket,
            versioning_configuration=minio.S3BucketVersioningVersioningConfigurationArgs(
                status="Enabled" if bucket.versioning else "Suspended"
            ),
            opts=depends,
        )
        minio.IlmPolicy(
            f"{name}-bucket-{bucket.name}-lifecycle",
            bucket=resource.bucket,
            rules=[
                minio.IlmPolicyRuleArgs(
                    id=rule.id,
                    status="Enabled",
                    filter=rule.prefix or None,
                    expiration=f"{rule.expire_days}d" if rule.expire_days else None,
                    noncurrent_version_expiration_days=rule.noncurrent_expire_days,
                )
                for rule in bucket.lifecycle
            ],
            opts=depends,
        )
        return physical

    def _user(
        self, name: str, user: ServiceUser, managed: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        secret = generated_password(f"{name}-user-{user.name}-secret", parent=self)
        physical_user = self._stack.physical_name(user.name)
        iam_user = minio.IamUser(
            f"{name}-user-{user.name}",
            name=physical_user,
            secret=secret,
            force_destroy=not self._stack.is_prod,
            tags={"owner": self._stack.owner, "environment": self._stack.environment},
            opts=managed,
        )
        policy = minio.IamPolicy(
            f"{name}-user-{user.name}-policy",
            name=f"{physical_user}-access",
            policy=policy_document(self._stack, user.grants),
            opts=managed,
        )
        self.user_ready[user.name] = minio.IamUserPolicyAttachment(
            f"{name}-user-{user.name}-policy-attachment",
            user_name=iam_user.name,
            policy_name=policy.name,
            opts=managed,
        )
        return secret

    def _certificate(
        self,
        name: str,
        settings: ObjectStoreSettings,
        runtime: Runtime,
        admin: AdminEndpoint | None,
    ) -> ServerCertificate | None:
        """A server certificate for every name the server is reached by, when TLS is on."""
        if not settings.tls:
            return None
        identity = self._identity(settings)
        internal = runtime.internal_host(identity)
        short = identity.base_name
        return generated_certificate(
            name,
            common_name=internal,
            dns_names=[internal, short, "localhost", *([admin.host] if admin else [])],
            parent=self,
        )

    def credentials(self, user: str) -> tuple[str, pulumi.Output[str]]:
        """Access key and secret key of a declared service user, for a consumer's secret env."""
        return self._stack.physical_name(user), self.user_secrets[user]


def start_script(*, tls: bool) -> str:
    """The shell run before `minio server` (`"$@"`): refuse to start without credentials.

    MinIO ignores a missing `MINIO_ROOT_*_FILE` and starts with the well-known default
    credentials (minioadmin); this script makes that impossible. With TLS, it copies the
    certificate from its read-only secret mount into a private certs dir that MinIO
    may write to (it creates `CAs/` there) with the key readable by the server only.
    """
    lines = [
        "set -eu",
        'for f in "$MINIO_ROOT_USER_FILE" "$MINIO_ROOT_PASSWORD_FILE"; do',
        '  if [ ! -s "$f" ]; then',
        '    echo "minio: secret file $f is missing or empty; refusing to start" >&2',
        "    exit 1",
        "  fi",
        "done",
    ]
    if tls:
        lines += [
            f"mkdir -p {CERTS_DIR}/CAs",
            f"cp {TLS_DIR}/public.crt {TLS_DIR}/private.key {CERTS_DIR}/",
            f"chmod 0600 {CERTS_DIR}/private.key",
        ]
    lines.append('exec minio "$@"')
    return "\n".join(lines) + "\n"


def _highest(classifications: Iterable[DataClassification]) -> str:
    """The most sensitive classification among the buckets: what the server's volume holds."""
    order = list(DataClassification)
    return max(classifications, key=order.index, default=DataClassification.INTERNAL).value
