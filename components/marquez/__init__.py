"""Marquez: the platform's lineage store (settings, rendered files, workloads, component).

The registry entry is `components.marquez.service.SERVICE` (imported by infra/services.py,
not here: `infra/config.py` imports the settings from this package).
"""

from components.marquez.settings import MarquezSettings

__all__ = ["MarquezSettings"]
