"""Each stack's Kafka section and tier, read from Pulumi.<stack>.yaml as the program reads them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.kafka.settings import KafkaSettings
from components.runtime.stack import Tier

REPO = Path(__file__).resolve().parents[2]


def stack_kafka_section(stack: str) -> tuple[Tier, Mapping[str, Any]]:
    """The stack's tier and its `data-platform:kafka` section (KeyError when it has none)."""
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    return Tier(config["data-platform:platform"]["tier"]), config["data-platform:kafka"]


def stack_kafka_settings(stack: str) -> KafkaSettings:
    """The stack's Kafka settings, validated over its tier's defaults as the program will."""
    tier, section = stack_kafka_section(stack)
    return KafkaSettings.for_tier(tier, section)
