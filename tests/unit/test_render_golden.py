"""Every stack renders exactly as its reviewed golden render (tests/golden/<stack>.json).

A refactor must not change what a stack declares; an intended change updates the golden
files in the same commit (`make golden`), so the review sees the infra diff itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.diff import diff_renders, format_diff
from tests.conftest import STACKS, cached_render

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


@pytest.mark.parametrize("stack", STACKS)
def test_render_matches_the_golden_render(stack: str) -> None:
    expected = (GOLDEN / f"{stack}.json").read_text()
    actual = cached_render(stack).to_json()
    if actual != expected:
        changes = diff_renders(json.loads(expected), json.loads(actual))
        pytest.fail(
            f"stack {stack} renders differently from tests/golden/{stack}.json "
            f"(intended? run `make golden` and commit):\n{format_diff(changes)}"
        )
