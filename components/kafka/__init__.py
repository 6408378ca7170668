"""Kafka (KRaft): settings, rendered files, workloads and the `Kafka` component (docs/kafka.md)."""

from components.kafka.settings import KafkaSettings

__all__ = ["KafkaSettings"]
