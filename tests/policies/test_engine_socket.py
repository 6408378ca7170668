"""The engine socket rule (policies/rules/engine_socket.py) on the real dev socket proxy.

Dev's Dagster daemon reaches the Docker engine through a socket proxy: the proxy is the
only container holding the socket, read-only, unpublished, on the platform network.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ops.check import POLICY_CONFIG_DIR, check_render
from tests.conftest import cached_render, render_json

POLICY = "engine-socket-restricted"


def _holders(render: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["inputs"]
        for r in render["resources"]
        if r["type"] == "docker:index/container:Container"
        and any("docker.sock" in str(m.get("source")) for m in r["inputs"].get("mounts") or [])
    ]


def _fired(analyzer: Any, render: dict[str, Any]) -> list[str]:
    document = json.loads((POLICY_CONFIG_DIR / "dev.json").read_text())
    result = check_render(render, analyzer=analyzer, policy_document=document)
    return [v.message for v in result.violations if v.policy == POLICY]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda c: c["mounts"][0].update(readOnly=False), "mounts the engine socket writable"),
        (
            lambda c: c.update(ports=[{"internal": 2375, "external": 2375, "ip": "127.0.0.1"}]),
            "publishes 1 port(s)",
        ),
        (lambda c: c["networksAdvanced"].append({"name": "dp-dev-other"}), "joins dp-dev-net"),
        (lambda c: c.update(networksAdvanced=None, networkMode=None), "joins bridge"),
        (
            lambda c: c["mounts"][0].update(source="/var/run", readOnly=False),
            "writable (/var/run)",
        ),
    ],
)
def test_real_dev_socket_proxy(analyzer, change: Any, fragment: str) -> None:
    render = copy.deepcopy(render_json(cached_render("dev")))
    holders = _holders(render)
    assert len(holders) == 1, "dev should give the engine socket to exactly one proxy"
    assert _fired(analyzer, render) == []
    change(holders[0])
    assert any(fragment in m for m in _fired(analyzer, render)), _fired(analyzer, render)
