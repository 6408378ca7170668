"""Imports follow the layering: `ops/` -> `infra/` -> `components/`, never backwards.

A `pulumi up` loads the program (`infra/`) and the components only; if the program or a
component imported an operator command, the deploy would load (and could break on) code
it does not need, and the operator commands could no longer be changed on their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "infra": ("ops",),
    "components": ("infra", "ops"),
}
"""Package -> top-level packages of ours it must not import."""


def _imported_packages(path: Path) -> set[str]:
    """Top-level package names a module imports (absolute imports only)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_module_imports_a_layer_above_it(package: str) -> None:
    backwards = {
        str(path.relative_to(REPO)): sorted(_imported_packages(path) & set(FORBIDDEN[package]))
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert {k: v for k, v in backwards.items() if v} == {}
