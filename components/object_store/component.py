"""The MinIO component: server, provider, buckets, and users for the operator and consumers.

Creates: the MinIO server workload (stateful, one persistent volume, generated root
credentials as files, TLS outside dev); a pulumi-minio Provider whose address is the way in
the runtime creates (docs/architecture.md, control plane); per bucket an `S3Bucket` named
with the environment, `S3BucketVersioning` and an `IlmPolicy`; per user (the operator's
from config, and one per consumer that requires buckets) an `IamUser` with a generated
secret, an `IamPolicy` granting only its bucket access, and the attachment between them.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_minio as minio

from components.common import AdminEndpoint
from components.contracts import ObjectStoreAccess, Peer, Requirements
from components.object_store.policy import policy_document
from components.object_store.server import (
    API_PORT,
    server_certificate,
    server_identity,
    server_workload,
)
from components.object_store.settings import (
    BucketAccess,
    BucketGrant,
    BucketSettings,
    ObjectStoreSettings,
    ServiceUser,
)
from components.options import flowing_options
from components.runtime.base import Runtime
from components.runtime.stack import StackSettings
from components.runtime.workload import Endpoint
from components.secrets import generated_password


def consumer_users(requirements: Sequence[Requirements]) -> tuple[ServiceUser, ...]:
    """One user per consumer that requires buckets, named after it, granted exactly those."""
    return tuple(
        ServiceUser(
            name=needs.consumer,
            grants=tuple(
                BucketGrant(
                    bucket=n.bucket,
                    access=BucketAccess(n.access.value),
                    prefix=n.prefix,
                )
                for n in needs.buckets
            ),
        )
        for needs in requirements
        if needs.buckets
    )


class ObjectStore(pulumi.ComponentResource):
    """MinIO server, buckets with versioning and lifecycle, and least-privilege users.

    Implements `ObjectStoreProducer`: `object_store_access(consumer)` hands a consumer its
    own user, its buckets' physical names and where to reach them.
    """

    endpoint: Endpoint
    peer: Peer
    root_user: pulumi.Output[str]
    root_password: pulumi.Output[str]
    bucket_names: dict[str, str]
    user_secrets: dict[str, pulumi.Output[str]]
    user_ready: dict[str, pulumi.Resource]
    """Per user, the resource after which its key works with its grants."""

    def __init__(
        self,
        name: str,
        *,
        stack: StackSettings,
        settings: ObjectStoreSettings,
        runtime: Runtime,
        admin: AdminEndpoint | None,
        requirements: Sequence[Requirements] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Every descendant takes the component's protect / retain_on_delete (never its
        # depends_on: children wait for exactly what they use).
        super().__init__("dataplatform:storage:ObjectStore", name, None, flowing_options(opts))
        self._stack = stack
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self)
        self.root_user = pulumi.Output.secret("platform-admin")
        self.root_password = generated_password(f"{name}-root-password", parent=self)
        provider = self._server(settings, runtime, admin)
        # The provider connects lazily; what it manages waits for the server itself, so
        # the provider adds no step to the deploy graph's longest chain.
        managed = pulumi.ResourceOptions.merge(
            self._child,
            pulumi.ResourceOptions(provider=provider, depends_on=list(self._server_ready)),
        )
        stateful = pulumi.ResourceOptions.merge(
            managed, pulumi.ResourceOptions(protect=stack.is_prod or None)
        )
        self.bucket_names = {
            bucket.name: self._bucket(name, bucket, managed, stateful)
            for bucket in settings.buckets
        }
        self.user_secrets, self.user_ready = {}, {}
        for user in (*settings.users, *consumer_users(requirements)):
            self.user_secrets[user.name] = self._user(name, user, managed)
        self._grants = {needs.consumer: needs for needs in requirements if needs.buckets}
        self.register_outputs(
            {
                "endpoint": self.endpoint.url,
                "buckets": self.bucket_names,
                "users": sorted(self.user_secrets),
            }
        )

    def _server(
        self,
        settings: ObjectStoreSettings,
        runtime: Runtime,
        admin: AdminEndpoint | None,
    ) -> minio.Provider:
        """The server workload, its certificate and the provider that configures it."""
        self.certificate = server_certificate(self._name, settings, runtime, admin, parent=self)
        workload = server_workload(
            settings,
            admin,
            self.certificate,
            root_user=self.root_user,
            root_password=self.root_password,
        )
        deployed = runtime.deploy(workload, parent=self)
        api = deployed.endpoint("api")
        self.endpoint = Endpoint(
            host=api.host, port=api.port, scheme="https" if settings.tls else "http"
        )
        self.peer = Peer.of(server_identity(settings), API_PORT)
        # Reached from where `pulumi up` runs, through a way in the same deploy creates.
        address = runtime.control_plane_address(
            workload,
            deployed,
            port_name="api",
            parent=self,
            fixed_host=admin.host if admin else None,
        )
        self._server_ready = address.ready
        return minio.Provider(
            f"{self._name}-provider",
            minio_server=pulumi.Output.concat(address.host, f":{address.port}"),
            minio_user=self.root_user,
            minio_password=self.root_password,
            # The server's own setting decides: the provider never sends the root
            # credentials in clear text to a server that speaks TLS, or vice versa.
            minio_ssl=settings.tls,
            # A generated certificate is self-signed: the link is encrypted, not verified
            # (as PostgreSQL's sslmode=require); see docs/architecture.md.
            minio_insecure=settings.tls,
            opts=self._child,
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

    def object_store_access(self, consumer: str) -> ObjectStoreAccess:
        """The consumer's user and buckets; KeyError if it required none."""
        needs = self._grants[consumer]
        return ObjectStoreAccess(
            peer=self.peer,
            endpoint=self.endpoint,
            access_key=self._stack.physical_name(consumer),
            secret_key=self.user_secrets[consumer],
            buckets={n.bucket: self.bucket_names[n.bucket] for n in needs.buckets},
            ca_certificate=self.certificate.cert_pem if self.certificate else None,
            ready=(self.user_ready[consumer],),
        )
