"""Kafka: settings and rendered files (the component lands with issue 10)."""

from components.kafka.settings import KafkaSettings

__all__ = ["KafkaSettings"]
