"""The compliant baseline passes every policy (each policy's 'compliant resource' case)."""

from __future__ import annotations

from tests.policies.conftest import baseline


def test_baseline_is_compliant(evaluate) -> None:
    result = evaluate(baseline())
    assert result.violations == [], result.format()
