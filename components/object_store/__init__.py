"""MinIO object store: the lake's buckets, their rules and the users that may use them.

Modules: `settings` (the stack section and its tier rules), `policy` (IAM policy
documents), `server` (the server workload, its certificate and start script) and
`component` (the `ObjectStore` component, producer of object-store access).
"""

from components.object_store.component import ObjectStore, consumer_users
from components.object_store.policy import policy_document
from components.object_store.server import (
    API_PORT,
    CERTS_DIR,
    ROOT_PASSWORD_FILE,
    ROOT_USER_FILE,
    TLS_DIR,
    server_identity,
    start_script,
)
from components.object_store.settings import (
    AUDIT_BUCKET,
    REQUIRED_BUCKETS,
    BucketAccess,
    BucketGrant,
    BucketSettings,
    LifecycleRule,
    ObjectStoreSettings,
    ServiceUser,
)

__all__ = [
    "API_PORT",
    "AUDIT_BUCKET",
    "CERTS_DIR",
    "REQUIRED_BUCKETS",
    "ROOT_PASSWORD_FILE",
    "ROOT_USER_FILE",
    "TLS_DIR",
    "BucketAccess",
    "BucketGrant",
    "BucketSettings",
    "LifecycleRule",
    "ObjectStore",
    "ObjectStoreSettings",
    "ServiceUser",
    "consumer_users",
    "policy_document",
    "server_identity",
    "start_script",
]
