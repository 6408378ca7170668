"""The control plane works from nothing: providers reach servers the same `pulumi up` creates.

On Kubernetes a control-plane provider's host is the address of an internal load balancer
that the deploy itself creates (limited to the admin CIDRs); on Docker it is the port the
deploy publishes on loopback. Every object a provider manages waits for its server and for
that way in, so a first `up` on an empty cluster, or a DR drill, needs no one's help.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from ops.render import LOAD_BALANCER_ADDRESS, Render, render_stack
from tests.conftest import KUBERNETES_STACKS, cached_render

# provider type -> (its address input, the server workload, the control-plane resource types)
PROVIDERS = {
    "pulumi:providers:minio": ("minioServer", "minio-server", ("minio:",)),
    "pulumi:providers:postgresql": ("host", "postgres-server", ("postgresql:",)),
}


@functools.cache
def deployed(stack: str) -> Render:
    """A simulated deploy (not a preview): cluster-assigned values get documentation values."""
    return render_stack(stack, preview=False)


def _by_urn(render: Render) -> dict[str, dict[str, Any]]:
    return {r["urn"]: r for r in render.resources}


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
@pytest.mark.parametrize("provider_type", sorted(PROVIDERS))
def test_provider_host_is_the_admin_load_balancer(stack: str, provider_type: str) -> None:
    address_key, workload, _ = PROVIDERS[provider_type]
    render = cached_render(stack)
    [provider] = render.of_type(provider_type)
    [source] = provider["property_dependencies"][address_key]
    service = _by_urn(render)[source]
    assert service["name"].endswith(f"{workload}-admin")
    spec = service["inputs"]["spec"]
    assert spec["type"] == "LoadBalancer" and spec["externalTrafficPolicy"] == "Local"
    admin_cidrs = render_stack_admin_cidrs(stack)
    assert spec["loadBalancerSourceRanges"] == admin_cidrs and "0.0.0.0/0" not in admin_cidrs
    [deployed_provider] = deployed(stack).of_type(provider_type)
    assert deployed_provider["inputs"][address_key].split(":")[0] == LOAD_BALANCER_ADDRESS


def render_stack_admin_cidrs(stack: str) -> list[str]:
    from ops.render import load_stack_config

    config = load_stack_config(stack)
    assert config.kubernetes is not None
    return list(config.kubernetes.admin_cidrs)


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
@pytest.mark.parametrize("provider_type", sorted(PROVIDERS))
def test_managed_objects_wait_for_server_and_way_in(stack: str, provider_type: str) -> None:
    _, workload, prefixes = PROVIDERS[provider_type]
    render = cached_render(stack)
    by_urn = _by_urn(render)
    managed = [r for r in render.resources if r["custom"] and r["type"].startswith(prefixes)]
    assert managed
    for resource in managed:
        waits = {by_urn[u]["name"].removeprefix(f"dp-{stack}-") for u in resource["dependencies"]}
        assert {workload, f"{workload}-admin"} <= waits, resource["name"]


def test_docker_providers_use_the_loopback_ports() -> None:
    [minio] = cached_render("dev").of_type("pulumi:providers:minio")
    assert minio["inputs"]["minioServer"] == "127.0.0.1:19000"
    [postgres] = cached_render("dev").of_type("pulumi:providers:postgresql")
    assert (postgres["inputs"]["host"], str(postgres["inputs"]["port"])) == ("127.0.0.1", "15432")
    assert not [
        r for r in cached_render("dev").resources if r["type"] == "kubernetes:core/v1:Service"
    ]


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_only_control_plane_servers_get_an_admin_load_balancer(stack: str) -> None:
    balancers = [
        r["name"].removeprefix(f"dp-{stack}-")
        for r in cached_render(stack).of_type("kubernetes:core/v1:Service")
        if r["inputs"]["spec"].get("type") == "LoadBalancer"
    ]
    # Kafka's (the brokers' ADMIN listener) is tested in tests/unit/test_kafka_component.py.
    kafka = {"kafka-broker-admin"}
    assert set(balancers) == {f"{w}-admin" for _, w, _ in PROVIDERS.values()} | kafka
