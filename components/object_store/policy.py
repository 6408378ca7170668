"""IAM policy documents: exactly the declared bucket access, on this stack's buckets."""

from __future__ import annotations

import json
from collections.abc import Sequence

from components.object_store.settings import BucketAccess, BucketGrant
from components.runtime.stack import StackSettings

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
