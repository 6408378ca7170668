"""What a routine change does to running workloads: secrets roll pods, upgrades keep volumes.

Field cases 02 (volume claim templates changed by an image bump) and 11 (a rotated secret
rolled no pod) from operators of the same software.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.runtime.base import content_hash
from components.runtime.workload import (
    ConfigFile,
    Port,
    Probe,
    Resources,
    SecretFile,
    SecurityProfile,
    Workload,
    WorkloadIdentity,
    WorkloadKind,
)
from ops.render import Render, render_stack, stack_file
from tests.conftest import KUBERNETES_STACKS, cached_render

STATEFUL_SET = "kubernetes:apps/v1:StatefulSet"


def _resolve(build: Callable[[], Any]) -> Any:
    """Build an Output (or an awaitable) and resolve it inside one private event loop."""

    async def run() -> Any:
        built = build()
        return await (built.future() if isinstance(built, pulumi.Output) else built)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


def _hash(secret: str, cert: str) -> str:
    return _resolve(lambda: content_hash(_workload(secret, cert)))


def _workload(secret: str, cert: str) -> Workload:
    return Workload(
        identity=WorkloadIdentity(service="trino", component="coordinator", version="483"),
        kind=WorkloadKind.STATELESS,
        image="trinodb/trino:483",
        ports=(Port(name="http", container_port=8080),),
        resources=Resources(
            cpu_request="1", cpu_limit="2", memory_request="1Gi", memory_limit="2Gi"
        ),
        readiness=Probe(port=8080, path="/v1/info"),
        liveness=Probe(port=8080, path="/v1/info"),
        security=SecurityProfile(run_as_user=1000, run_as_group=1000),
        env={"A": "b"},
        secret_env={"PASSWORD": pulumi.Output.secret(secret)},
        config_files=(
            ConfigFile(path="/etc/trino/config.properties", content="coordinator=true\n"),
        ),
        secret_files=(
            SecretFile(path="/etc/trino/server.pem", content=pulumi.Output.secret(cert)),
        ),
    )


def test_rotating_a_secret_value_changes_the_pod_template_hash() -> None:
    base = _hash("old-password", "OLD CERT")
    assert _hash("new-password", "OLD CERT") != base
    assert _hash("old-password", "NEW CERT") != base
    assert _hash("old-password", "OLD CERT") == base


def test_config_hash_is_a_secret_output() -> None:
    assert _resolve(lambda: content_hash(_workload("pw", "cert")).is_secret())


def test_config_file_change_changes_the_hash() -> None:
    def edited() -> pulumi.Output[str]:
        workload = dataclasses.replace(
            _workload("pw", "cert"),
            config_files=(
                ConfigFile(path="/etc/trino/config.properties", content="coordinator=false\n"),
            ),
        )
        return content_hash(workload)

    assert _resolve(edited) != _hash("pw", "cert")


def _bumped_stack_file(stack: str, directory: Path) -> Path:
    """The stack file with every image tag bumped and the ownership labels changed."""
    text = stack_file(stack).read_text()
    text = re.sub(r"(image: \S+:)(\S+)", r"\g<1>\g<2>-bumped", text)
    text = re.sub(r"(owner: )\S+", r"\1another-team", text, count=1)
    text = re.sub(r"(costCenter: )\S+", r"\1cc-0000", text, count=1)
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def _claim_templates(render: Render) -> dict[str, Any]:
    return {
        r["name"]: r["inputs"]["spec"]["volumeClaimTemplates"] for r in render.of_type(STATEFUL_SET)
    }


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_image_bump_leaves_volume_claim_templates_unchanged(stack: str, tmp_path: Path) -> None:
    before = cached_render(stack)
    after = render_stack(stack, config_file=_bumped_stack_file(stack, tmp_path))
    assert _claim_templates(before), "the stack has stateful sets"
    assert _claim_templates(after) == _claim_templates(before)
    # The bump did reach the pods: only pod-template fields change.
    images = {
        r["name"]: r["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"]
        for r in after.of_type(STATEFUL_SET)
    }
    # Images the stack file names (Kafka's comes from its tier default: a pinned release).
    named = set(re.findall(r"image: (\S+)", stack_file(stack).read_text()))
    assert any(image.endswith("-bumped") for image in images.values())
    assert not [image for image in images.values() if image in named]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_volume_claim_templates_carry_no_version_or_ownership_labels(stack: str) -> None:
    for name, templates in _claim_templates(cached_render(stack)).items():
        for template in templates:
            keys = set(template["metadata"].get("labels", {}))
            changing = keys & {
                "app.kubernetes.io/version",
                "dataplatform.io/owner",
                "dataplatform.io/cost-center",
                "dataplatform.io/color",
                "dataplatform.io/data-classification",
            }
            assert not changing, (
                f"{name}: claim template labels {sorted(changing)} change over time"
            )
