"""Shared fixtures: one offline render per stack per test session (renders are deterministic)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from infra.render import Render, render_stack

STACKS = ("dev", "test", "prod")
KUBERNETES_STACKS = ("test", "prod")


@functools.cache
def cached_render(stack: str) -> Render:
    """The render of `stack`, computed once per process."""
    return render_stack(stack)


@pytest.fixture(params=STACKS)
def any_render(request: pytest.FixtureRequest) -> Render:
    """The render of each stack in turn."""
    return cached_render(request.param)


@pytest.fixture(params=KUBERNETES_STACKS)
def kubernetes_render(request: pytest.FixtureRequest) -> Render:
    """The render of each Kubernetes stack in turn."""
    return cached_render(request.param)


def render_json(render: Render) -> dict[str, Any]:
    """The render as the JSON document `dataplatform render --out` writes."""
    return json.loads(render.to_json())
