"""Kubernetes resource quantities ("500m", "2Gi") as numbers, for Docker limits and budgets."""

from __future__ import annotations

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_MEMORY = re.compile(r"^(?P<n>\d+(\.\d+)?)(?P<unit>Ki|Mi|Gi|Ti|k|M|G|T)?$")
_CPU = re.compile(r"^(?P<n>\d+(\.\d+)?)(?P<milli>m)?$")

CPU_PATTERN = r"^\d+(\.\d+)?m?$"
MEMORY_PATTERN = r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$"


def memory_bytes(quantity: str) -> int:
    """Bytes in a memory or storage quantity such as `512Mi` or `20Gi`."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    unit = match["unit"] or ""
    factor = _BINARY.get(unit) or _DECIMAL.get(unit) or 1
    return int(float(match["n"]) * factor)


def cpu_cores(quantity: str) -> float:
    """Cores in a CPU quantity such as `500m` or `2`."""
    match = _CPU.match(quantity)
    if not match:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    value = float(match["n"])
    return value / 1000 if match["milli"] else value
