"""The governance rules, grouped by concern; `ALL_POLICIES` is what the pack enforces."""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    access,
    audit,
    budget,
    durability,
    images,
    isolation,
    network,
    object_storage,
    ownership,
    pod_security,
    postgres,
    secrets,
    transport,
)

ALL_POLICIES: list[Policy] = [
    *ownership.POLICIES,
    *images.POLICIES,
    *pod_security.POLICIES,
    *network.POLICIES,
    *secrets.POLICIES,
    *transport.POLICIES,
    *object_storage.POLICIES,
    *audit.POLICIES,
    *postgres.POLICIES,
    *access.POLICIES,
    *durability.POLICIES,
    *isolation.POLICIES,
    *budget.POLICIES,
]
"""Every policy of the pack, in report order."""
