"""What a consumer's stream need grants in Kafka: its principal's ACL bindings (pure data).

Kafka's authorizer semantics (kafka.apache.org/documentation/#security_authz_primitives):
a consumer needs READ and DESCRIBE on each topic it reads and READ on its consumer
group; a producer needs WRITE and DESCRIBE on each topic it writes. Groups are granted
by prefix, `<consumer>-`, so a consumer may run several groups of its own and no
other's. Nothing else is granted (no CREATE: topics come from stack config only; no
IDEMPOTENT_WRITE on the cluster: Kafka 3+ authorizes idempotent producers by WRITE on
the topic, KIP-679).

The component declares each binding as a `kafka.Acl`; the integration tests apply the
same bindings to a real broker through an admin client and prove they are enough and
no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from components.contracts import StreamNeed


class AclOperation(StrEnum):
    """The operations a stream need grants (Kafka's names, as the provider spells them)."""

    READ = "Read"
    WRITE = "Write"
    DESCRIBE = "Describe"


class AclResourceType(StrEnum):
    """The resources those operations are granted on."""

    TOPIC = "Topic"
    GROUP = "Group"


class PatternType(StrEnum):
    """How a binding's resource name matches (`resource_pattern_type_filter`)."""

    LITERAL = "Literal"
    PREFIXED = "Prefixed"


@dataclass(frozen=True, order=True)
class AclBinding:
    """One ALLOW binding of `User:<principal>` to an operation on a resource, from any host."""

    principal: str
    resource_type: AclResourceType
    resource_name: str
    pattern: PatternType
    operation: AclOperation

    @property
    def principal_name(self) -> str:
        """`User:<principal>`: the SCRAM user name as the authorizer sees it."""
        return f"User:{self.principal}"

    @property
    def key(self) -> str:
        """A stable, unique suffix for the binding's logical resource name."""
        pattern = "prefix-" if self.pattern is PatternType.PREFIXED else ""
        return (
            f"{self.principal}-{self.operation.value.lower()}-"
            f"{self.resource_type.value.lower()}-{pattern}{self.resource_name.rstrip('-')}"
        )


def group_prefix(consumer: str) -> str:
    """The consumer-group prefix a consumer owns: `<consumer>-`."""
    return f"{consumer}-"


def acl_bindings(consumer: str, need: StreamNeed) -> tuple[AclBinding, ...]:
    """Every binding `need` grants `consumer`, sorted and without duplicates."""
    bindings: set[AclBinding] = set()

    def topic(name: str, operation: AclOperation) -> AclBinding:
        return AclBinding(consumer, AclResourceType.TOPIC, name, PatternType.LITERAL, operation)

    for name in need.read:
        bindings |= {topic(name, AclOperation.READ), topic(name, AclOperation.DESCRIBE)}
    for name in need.write:
        bindings |= {topic(name, AclOperation.WRITE), topic(name, AclOperation.DESCRIBE)}
    if need.read:
        bindings.add(
            AclBinding(
                consumer,
                AclResourceType.GROUP,
                group_prefix(consumer),
                PatternType.PREFIXED,
                AclOperation.READ,
            )
        )
    return tuple(sorted(bindings))
