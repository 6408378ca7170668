"""Wiring: one `DataPlatform` component that builds the runtime and the stack's services.

It walks the service registry (`infra/services.py`) in order: every consumer's
requirements are collected first, from settings alone; each producer is then built with
the requirements addressed to it, and each consumer receives its access through the
contracts (`components/contracts.py`). No service is named here.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pydantic import BaseModel

from components.contracts import ObjectStoreProducer, Service, ServiceContext
from components.runtime.base import Runtime
from components.runtime.docker import DockerRuntime
from components.runtime.kubernetes import KubernetesRuntime
from components.runtime.stack import Target
from infra.config import PlatformConfig
from infra.services import SERVICES, enabled_settings, stack_requirements


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
    """The whole platform of one stack: the runtime, then each enabled service in order."""

    def __init__(
        self,
        name: str,
        *,
        config: PlatformConfig,
        services: tuple[Service, ...] = SERVICES,
        sections: Mapping[str, BaseModel | None] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`services` and `sections` default to the registry and the stack's config; a test
        may stamp other services (a throwaway consumer) through the same path."""
        super().__init__("dataplatform:platform:DataPlatform", name, None, opts)
        self.runtime = build_runtime(config, self)
        sections = dict(sections) if sections is not None else enabled_settings(config, services)
        context = ServiceContext(
            stack=config.platform,
            runtime=self.runtime,
            parent=self,
            requirements=stack_requirements(sections, services),
            admin=dict(config.admin_access),  # keyed by service name (AdminAccess fields)
        )
        self.services: dict[str, pulumi.ComponentResource] = {}
        for service in services:
            settings = sections.get(service.section)
            if settings is None:
                continue
            component = service.build(context, settings)
            self.services[service.name] = component
            if service.produces:
                context.producers.append(component)
        # In-platform `host:port` of every service that serves one.
        self.endpoints = {
            name: component.endpoint.address  # type: ignore[attr-defined]
            for name, component in self.services.items()
            if hasattr(component, "endpoint")
        }
        self.inventory = {
            "environment": config.platform.environment,
            "target": config.platform.target.value,
            "services": sorted(self.services),
            "buckets": {
                name: physical
                for producer in context.producers
                if isinstance(producer, ObjectStoreProducer)
                for name, physical in getattr(producer, "bucket_names", {}).items()
            },
        }
        self.register_outputs({"endpoints": self.endpoints, "inventory": self.inventory})
