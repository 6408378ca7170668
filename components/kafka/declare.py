"""Declaring topics, principals and ACLs with pulumi-kafka, through the admin listener.

Each declared topic is a `dataplatform:streaming:KafkaTopic` component whose inputs carry
the topic's governance facts (`classification`, `owner`: Kafka has no place for them,
docs/kafka.md) with the provider's `kafka.Topic` as its child. Each consumer with a
stream need gets a `kafka.UserScramCredential` (SCRAM-SHA-512) and one `kafka.Acl` per
binding of `components/kafka/access.py`. Everything waits for `after` (the nodes and the
way in to them); topics are protected in prod. Provider docs:
https://www.pulumi.com/registry/packages/kafka/api-docs/
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kafka as kafka

from components.contracts import StreamNeed
from components.kafka.access import acl_bindings
from components.kafka.files import SCRAM_MECHANISM, TopicSpec
from components.kafka.settings import TopicSettings

TOPIC_TYPE = "dataplatform:streaming:KafkaTopic"
SCRAM_ITERATIONS = 8192  # Kafka's default and maximum is 16384; 8192 as kafka-configs uses


class KafkaTopic(pulumi.ComponentResource):
    """One declared topic: its governance facts as inputs, the `kafka.Topic` as child.

    Inputs (what the policy pack reads): `topic`, `classification`, `owner`,
    `partitions`, `replicationFactor`, `config`.
    """

    topic: kafka.Topic

    def __init__(
        self,
        name: str,
        *,
        spec: TopicSpec,
        declared: TopicSettings,
        provider: pulumi.ProviderResource,
        after: Sequence[pulumi.Resource],
        protect: bool,
        opts: pulumi.ResourceOptions,
    ) -> None:
        facts = {
            "topic": spec.name,
            "classification": declared.classification.value,
            "owner": declared.owner,
            "partitions": spec.partitions,
            "replicationFactor": spec.replication_factor,
            "config": dict(sorted(spec.config.items())),
        }
        super().__init__(TOPIC_TYPE, name, facts, opts)
        self.topic = kafka.Topic(
            name,
            name=spec.name,
            partitions=spec.partitions,
            replication_factor=spec.replication_factor,
            config=dict(sorted(spec.config.items())),
            opts=pulumi.ResourceOptions(
                parent=self, provider=provider, depends_on=list(after), protect=protect
            ),
        )
        # What the engine records for a component is its registered outputs: the facts the
        # policy pack reads (topic, classification, owner) must be among them.
        self.register_outputs({key: facts[key] for key in ("topic", "classification", "owner")})


def declare_principal(
    name: str,
    consumer: str,
    need: StreamNeed,
    *,
    password: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
) -> list[pulumi.Resource]:
    """`consumer`'s SCRAM credential and its ACLs (each a resource; `opts` carries the
    parent, provider and what they wait for)."""
    credential = kafka.UserScramCredential(
        f"{name}-user-{consumer}",
        username=consumer,
        scram_mechanism=SCRAM_MECHANISM,
        scram_iterations=SCRAM_ITERATIONS,
        password=password,
        opts=opts,
    )
    acls: list[pulumi.Resource] = [
        kafka.Acl(
            f"{name}-acl-{binding.key}",
            acl_principal=binding.principal_name,
            acl_host="*",
            acl_operation=binding.operation.value,
            acl_permission_type="Allow",
            acl_resource_type=binding.resource_type.value,
            acl_resource_name=binding.resource_name,
            resource_pattern_type_filter=binding.pattern.value,
            opts=opts,
        )
        for binding in acl_bindings(consumer, need)
    ]
    return [credential, *acls]
