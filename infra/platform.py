"""Wiring: one `DataPlatform` component that builds the runtime and every service in order."""

from __future__ import annotations

import pulumi

from components.object_store import ObjectStore
from components.runtime.base import Runtime
from components.runtime.docker import DockerRuntime
from components.runtime.kubernetes import KubernetesRuntime
from components.runtime.stack import Target
from infra.config import PlatformConfig


def build_runtime(config: PlatformConfig, parent: pulumi.Resource) -> Runtime:
    """The runtime the stack's target asks for."""
    stack = config.platform
    opts = pulumi.ResourceOptions(parent=parent)
    if stack.target is Target.DOCKER:
        assert config.docker is not None  # guaranteed by PlatformConfig's validator
        return DockerRuntime(
            f"{stack.prefix}-runtime", stack=stack, settings=config.docker, opts=opts
        )
    assert config.kubernetes is not None
    return KubernetesRuntime(
        f"{stack.prefix}-runtime", stack=stack, settings=config.kubernetes, opts=opts
    )


class DataPlatform(pulumi.ComponentResource):
    """The whole platform of one stack: runtime, then services in dependency order."""

    def __init__(
        self, name: str, *, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("dataplatform:platform:DataPlatform", name, None, opts)
        stack = config.platform
        self.runtime = build_runtime(config, self)
        self.object_store = ObjectStore(
            f"{stack.prefix}-minio",
            stack=stack,
            settings=config.object_store,
            runtime=self.runtime,
            admin=config.admin_access.minio,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.endpoints = {"minio": self.object_store.endpoint.url}
        self.inventory = {
            "environment": stack.environment,
            "target": stack.target.value,
            "buckets": self.object_store.bucket_names,
        }
        self.register_outputs({"endpoints": self.endpoints, "inventory": self.inventory})
