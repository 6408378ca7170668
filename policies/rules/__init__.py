"""The governance rules, grouped by concern; `ALL_POLICIES` is what the pack enforces."""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    access,
    audit,
    budget,
    durability,
    engine_socket,
    images,
    isolation,
    network,
    object_storage,
    ownership,
    pod_security,
    postgres,
    rbac,
    secrets,
    streaming,
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
    *streaming.POLICIES,
    *rbac.POLICIES,
    *engine_socket.POLICIES,
    *isolation.POLICIES,
    *budget.POLICIES,
]
"""Every policy of the pack, in report order."""
