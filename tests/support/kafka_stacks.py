"""Each stack's Kafka section and tier, read the way the program will read them.

Until the Kafka component lands (issue 10) the stack files have no `data-platform:kafka`
key; the example sections in tests/fixtures/kafka-sections.yaml stand in for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.kafka.settings import KafkaSettings
from components.runtime.stack import Tier

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_SECTIONS = REPO / "tests/fixtures/kafka-sections.yaml"


def stack_kafka_section(stack: str) -> tuple[Tier, Mapping[str, Any]]:
    """The stack's tier and `kafka` section: from Pulumi.<stack>.yaml once it has one,
    else from the example sections in tests/fixtures/kafka-sections.yaml."""
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    tier = Tier(config["data-platform:platform"]["tier"])
    section = config.get("data-platform:kafka")
    if section is None:
        section = yaml.safe_load(EXAMPLE_SECTIONS.read_text())[stack]
    return tier, section


def stack_kafka_settings(stack: str) -> KafkaSettings:
    """The stack's Kafka settings, validated over its tier's defaults as the program will."""
    tier, section = stack_kafka_section(stack)
    return KafkaSettings.for_tier(tier, section)
