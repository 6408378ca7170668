"""Dagster: settings and rendered files (the component lands with issue 10)."""

from components.dagster.settings import DagsterSettings

__all__ = ["DagsterSettings"]
