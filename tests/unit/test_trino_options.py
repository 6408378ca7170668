"""Options that flow: what a stack sets on the Trino component reaches everything Trino
declares (its passwords, certificate, and the runtime's Deployments, Services, Secrets and
network policies), while a component-level `depends_on` stays on the component (the pods
wait for exactly their logins)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_random as random

from components.runtime.kubernetes import KubernetesRuntime, KubernetesSettings
from components.runtime.stack import StackSettings, Target, Tier
from components.runtime.workload import Connection, Endpoint
from components.trino import JdbcConnection, S3Connection, Trino
from ops.render import Render, render_program
from tests.unit.test_trino import settings

STACK = StackSettings(
    environment="test",
    tier=Tier.TEST,
    target=Target.KUBERNETES,
    prefix="dp-test",
    owner="team",
    cost_center="cc-1",
)


def _jdbc(database: str) -> JdbcConnection:
    return JdbcConnection(
        endpoint=Endpoint(host="postgres-server", port=5432),
        database=database,
        user=database,
        password=pulumi.Output.secret(f"{database}-password"),
        peer=Connection(service="postgres", component="server", port=5432),
    )


def _render(opts: pulumi.ResourceOptions) -> Render:
    """A Kubernetes runtime and one Trino (prod's settings: every kind of child) under
    `opts`, which also depend on a resource `gate`; the pods start after `login`."""
    return render_program(lambda: _render_into(opts), stack="test")


def _render_into(opts: pulumi.ResourceOptions) -> None:
    """Declare the runtime, `gate`, `login` and Trino under `opts` (+ depends on `gate`)."""
    runtime = KubernetesRuntime("rt", stack=STACK, settings=KubernetesSettings())
    gate = random.RandomString("gate", length=8)
    login = random.RandomString("login", length=8)
    trino_settings = settings("prod")
    Trino(
        "dp-test-trino",
        stack=STACK,
        settings=trino_settings,
        runtime=runtime,
        s3=S3Connection(
            endpoint=Endpoint(host="minio-server", port=9000),
            access_key="trino",
            secret_key=pulumi.Output.secret("s3-secret"),
            peer=Connection(service="minio", component="server", port=9000),
        ),
        warehouse_dir="s3://dp-test-gold/warehouse",
        iceberg=_jdbc("iceberg"),
        warehouse=_jdbc("warehouse"),
        start_after=(login,),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[gate])),
    )


def _descendants(render: Render) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Trino component and every resource below it (custom resources only)."""
    [trino] = render.of_type("dataplatform:query:Trino")
    by_urn = {r["urn"]: r for r in render.resources}

    def under_trino(resource: dict[str, Any]) -> bool:
        parent = resource["parent"]
        while parent and parent != trino["urn"]:
            parent = by_urn[parent]["parent"] if parent in by_urn else None
        return parent == trino["urn"]

    return trino, [r for r in render.resources if r["custom"] and under_trino(r)]


def test_retain_on_delete_and_protect_reach_every_child_but_depends_on_does_not() -> None:
    render = _render(pulumi.ResourceOptions(retain_on_delete=True, protect=True))
    trino, children = _descendants(render)
    kinds = {r["type"].rsplit(":", 1)[-1] for r in children}
    # Trino's own children and the runtime's: nothing is left out of the check.
    assert {"RandomPassword", "SelfSignedCert", "Deployment", "Secret", "NetworkPolicy"} <= kinds
    assert trino["options"]["retain_on_delete"] and trino["options"]["protect"]
    not_retained = [r["name"] for r in children if not r["options"]["retain_on_delete"]]
    assert not_retained == []
    not_protected = [r["name"] for r in children if not r["options"]["protect"]]
    assert not_protected == []
    [gate] = [r["urn"] for r in render.resources if r["name"] == "gate"]
    assert gate in trino["options"]["depends_on"]
    assert [r["name"] for r in children if gate in r["options"]["depends_on"]] == []
    [login] = [r["urn"] for r in render.resources if r["name"] == "login"]
    pods = [r for r in children if r["type"] == "kubernetes:apps/v1:Deployment"]
    assert len(pods) == 2 and all(login in r["options"]["depends_on"] for r in pods)


def test_without_options_nothing_is_retained_or_protected() -> None:
    _, children = _descendants(_render(pulumi.ResourceOptions()))
    assert children
    assert not [r["name"] for r in children if r["options"]["retain_on_delete"]]
    assert not [r["name"] for r in children if r["options"]["protect"]]


def test_a_provider_given_to_trino_reaches_its_generated_credentials() -> None:
    """Providers flow through `parent`; the runtime's resources keep the runtime's own."""

    def with_provider() -> None:
        provider = random.Provider("rnd")
        _render_into(pulumi.ResourceOptions(providers=[provider]))

    render = render_program(with_provider, stack="test")
    _, children = _descendants(render)
    [provider] = [r["urn"] for r in render.resources if r["name"] == "rnd"]
    generated = [r for r in children if r["type"].startswith("random:")]
    assert generated and all(r["provider"].startswith(provider) for r in generated)
    runtime_made = [r for r in children if r["type"].startswith("kubernetes:")]
    assert runtime_made and not [r for r in runtime_made if r["provider"].startswith(provider)]
