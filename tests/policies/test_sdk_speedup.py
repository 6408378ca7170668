"""The pack's decoding memo (policies/sdk_speedup.py) changes nothing the policies decide."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from ops.check import analyze_request
from tests.policies.conftest import resource

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture()
def pack_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """The pack's rules and the shim, imported as the pack process imports them."""
    monkeypatch.syspath_prepend(str(POLICIES))
    import pulumi_policy.policy as sdk_policy

    saved = {
        name: getattr(sdk_policy, name)
        for name in ("json_format", "deserialize_properties", "unknown_checking_proxy")
    }
    rules = importlib.import_module("rules")
    shim = importlib.import_module("sdk_speedup")
    yield rules, shim
    for name, value in saved.items():
        setattr(sdk_policy, name, value)
    for name in [m for m in sys.modules if m == "rules" or m.startswith("rules.")]:
        sys.modules.pop(name)
    sys.modules.pop("sdk_speedup", None)


def _answers(rules: Any, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer  # the SDK's own servicer

    servicer = _PolicyAnalyzerServicer(
        "p", "0.0.1", rules.ALL_POLICIES, EnforcementLevel.MANDATORY, *([None] * 7)
    )
    by_urn = {r["urn"]: r for r in resources}
    return [
        json_format.MessageToDict(servicer.Analyze(analyze_request(r, by_urn), None))
        for r in resources
    ]


def test_memo_gives_every_policy_the_same_verdicts(pack_modules: tuple[Any, Any]) -> None:
    rules, shim = pack_modules
    leaky = {
        "metadata": {"name": "cfg", "namespace": "prod"},
        "data": {"app.properties": "password=hunter2\nurl=http://user:pw@db:5432/x\n"},
    }
    pod = {
        "metadata": {"name": "web", "namespace": "prod"},
        "spec": {
            "hostNetwork": True,
            "containers": [{"name": "web", "image": "nginx:latest", "env": [{"name": "A"}]}],
        },
    }
    resources = [
        resource("kubernetes:core/v1:ConfigMap", "cfg", leaky),
        resource("kubernetes:core/v1:Pod", "web", pod),
        resource("kubernetes:core/v1:ConfigMap", "other", {"data": {"x": "y"}}),
    ]
    before = _answers(rules, resources)
    shim.install()
    after = _answers(rules, resources)
    assert after == before
    assert any(answer.get("diagnostics") for answer in before)  # the case really violates
