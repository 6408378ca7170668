"""Marquez: settings and rendered files (the component lands with issue 10)."""

from components.marquez.settings import MarquezSettings

__all__ = ["MarquezSettings"]
