"""What Marquez requires of the producers (components/contracts.py), from its settings.

Marquez keeps its lineage graph in a PostgreSQL database of its own (`marquez` unless the
stack names another). The database producer creates it with a login of the same name
that may connect and create objects in it, so Flyway migrates the schema on start as
that login, never as a superuser.
"""

from __future__ import annotations

from pydantic import BaseModel

from components.contracts import DatabaseNeed, Requirements
from components.marquez.settings import MarquezSettings

CONSUMER = "marquez"


def marquez_requirements(settings: BaseModel) -> Requirements:
    """Marquez's one need: its own database (and the login of the same name)."""
    assert isinstance(settings, MarquezSettings)
    return Requirements(consumer=CONSUMER, databases=(DatabaseNeed(database=settings.database),))
