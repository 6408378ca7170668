"""The service registry: every service the platform can stamp, in dependency order.

Adding a service means its package (with a `service.py` holding its `Service` entry), one
line here and its config section in `PlatformConfig`. Producers come before consumers.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from components.contracts import Requirements, Service
from components.dagster.service import SERVICE as DAGSTER
from components.kafka.service import SERVICE as KAFKA
from components.marquez.service import SERVICE as MARQUEZ
from components.object_store.service import SERVICE as OBJECT_STORE
from components.postgres.service import SERVICE as POSTGRES
from components.trino.service import SERVICE as TRINO

SERVICES: tuple[Service, ...] = (
    OBJECT_STORE,
    POSTGRES,
    KAFKA,
    MARQUEZ,
    TRINO,
    DAGSTER,
)


def enabled_settings(
    config: Any, services: tuple[Service, ...] = SERVICES
) -> dict[str, BaseModel | None]:
    """Each service's settings section from a config object (None: not in this stack)."""
    return {s.section: getattr(config, s.section, None) for s in services}


def stack_requirements(
    sections: dict[str, BaseModel | None], services: tuple[Service, ...] = SERVICES
) -> list[Requirements]:
    """What every enabled consumer requires, declared from its settings alone."""
    found = []
    for service in services:
        section = sections.get(service.section)
        if section is not None and service.requirements is not None:
            found.append(service.requirements(section))
    return found
