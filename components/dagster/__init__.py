"""Dagster: settings, rendered files, workloads and the stamped component (docs/dagster.md)."""

from components.dagster.settings import DagsterSettings

__all__ = ["DagsterSettings"]
