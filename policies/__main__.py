"""The data platform governance policy pack (`pulumi preview --policy-pack policies`).

Builds the PolicyPack and nothing else; the rules live in `rules/`. Secure by default:
every policy is mandatory unless the stack's policy config (policies/config/<stack>.json,
passed as --policy-pack-config) says otherwise.
"""

import sdk_speedup
from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

sdk_speedup.install()

PolicyPack(
    name="data-platform-governance",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
    description="Governance of the data platform: ownership, images, pod security, network, "
    "secrets, transport security, object storage, audit, access, durability, Kafka, "
    "Kubernetes RBAC, the container engine socket, isolation and budget.",
)
