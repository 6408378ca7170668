"""Options set on the Postgres component reach every resource it declares.

A platform that marks its database server `protect` or `retain_on_delete` (a DR copy,
a stack being handed over) must not lose the server's volume, StatefulSet, roles or
grants to a `pulumi destroy` because one child was declared without them. Each test
renders the component alone, through a real runtime, under Pulumi's mocks.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_random as random
import pytest

from components.common import AdminEndpoint
from components.postgres import Postgres, PostgresSettings
from components.runtime.docker import DockerRuntime, DockerSettings
from components.runtime.kubernetes import KubernetesRuntime, KubernetesSettings
from components.runtime.stack import StackSettings, Target, Tier
from components.tier_defaults import merged
from ops.render import Render, render_program

SECTION = {
    "image": "ghcr.io/cloudnative-pg/postgresql:15.17-standard-trixie",
    "volumeSize": "1Gi",
    "resources": {
        "cpuRequest": "100m",
        "cpuLimit": "1",
        "memoryRequest": "256Mi",
        "memoryLimit": "512Mi",
    },
}
TARGETS = ["docker", "kubernetes"]


def _render(target: str, opts: dict[str, Any]) -> Render:
    """The component on `target` in a test-tier stack, declared with `opts` (`gate`:
    a resource the component itself depends on)."""

    def program() -> None:
        stack = StackSettings(
            environment="test",
            tier=Tier.TEST,
            target=Target(target),
            prefix="dp-test",
            owner="team",
            cost_center="cc-1",
        )
        settings = PostgresSettings.model_validate(
            merged(PostgresSettings.tier_defaults(Tier.TEST), SECTION)
        )
        runtime: DockerRuntime | KubernetesRuntime
        admin = None
        if target == "docker":
            runtime = DockerRuntime("rt", stack=stack, settings=DockerSettings())
            admin = AdminEndpoint(host="127.0.0.1", port=15432)
        else:
            settings_k8s = KubernetesSettings(admin_cidrs=("10.0.0.0/24",))
            runtime = KubernetesRuntime("rt", stack=stack, settings=settings_k8s)
        gate = random.RandomString("gate", length=8)
        Postgres(
            "dp-test-postgres",
            stack=stack,
            settings=settings,
            runtime=runtime,
            admin=admin,
            opts=pulumi.ResourceOptions(depends_on=[gate], **opts),
        )

    return render_program(program, stack="test")


def _descendants(render: Render) -> tuple[str, list[dict[str, Any]]]:
    """The component's URN and every resource declared under it, at any depth."""
    [component] = render.of_type("dataplatform:storage:Postgres")
    under = {component["urn"]}
    found: list[dict[str, Any]] = []
    changed = True
    while changed:
        changed = False
        for resource in render.resources:
            if resource["parent"] in under and resource["urn"] not in under:
                under.add(resource["urn"])
                found.append(resource)
                changed = True
    return component["urn"], found


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("option", ["protect", "retain_on_delete"])
def test_every_child_carries_the_components_option(target: str, option: str) -> None:
    _, children = _descendants(_render(target, {option: True}))
    kinds = {r["type"] for r in children}
    assert {"postgresql:index/role:Role", "postgresql:index/grant:Grant"} <= kinds
    assert {"random:index/randomPassword:RandomPassword"} <= kinds
    assert any(t.startswith(("docker:", "kubernetes:")) for t in kinds)  # runtime's children
    missing = sorted(r["name"] for r in children if not r["options"][option])
    assert not missing, f"children without {option}: {missing}"


@pytest.mark.parametrize("target", TARGETS)
def test_without_options_a_test_stack_protects_nothing(target: str) -> None:
    """The control: the flow adds the options, the children do not have them anyway."""
    _, children = _descendants(_render(target, {}))
    assert not any(r["options"]["protect"] or r["options"]["retain_on_delete"] for r in children)


@pytest.mark.parametrize("target", TARGETS)
def test_the_components_depends_on_stays_on_the_component(target: str) -> None:
    """Children wait for what they use, not for what the whole component waits for
    (that would lengthen the deploy graph)."""
    render = _render(target, {"protect": True})
    [gate] = [r for r in render.resources if r["name"] == "gate"]
    [component] = render.of_type("dataplatform:storage:Postgres")
    assert gate["urn"] in component["options"]["depends_on"]
    _, children = _descendants(render)
    assert not [r["name"] for r in children if gate["urn"] in r["dependencies"]]
