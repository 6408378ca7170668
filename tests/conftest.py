"""Shared fixtures: one offline render per stack per test session (renders are deterministic)."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest

from ops.render import Render, render_stack

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


def docker_files(render: Render, container_name: str) -> dict[str, str]:
    """Files a Docker server sees, by in-container path, with their rendered contents.

    The runtime uploads them into a volume through a never-started carrier container
    (`<container>-files`) and mounts one sub-path of that volume per directory.
    """
    containers = {c["name"]: c for c in render.of_type("docker:index/container:Container")}
    server = containers[container_name]
    carrier = containers.get(f"{container_name}-files")
    if carrier is None:
        return {}
    directories = {
        mount["volumeOptions"]["subpath"]: mount["target"]
        for mount in server["inputs"].get("mounts", [])
        if mount.get("volumeOptions", {}).get("subpath")
    }
    files = {}
    for upload in carrier["inputs"]["uploads"]:
        _, _, subpath, name = upload["file"].split("/", 3)
        files[f"{directories[subpath]}/{name}"] = upload["content"]
    return files
