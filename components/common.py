"""Settings types shared by several service components: pinned images and sizes."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

# Re-exported: components take their image type from here, the runtime from images.py.
from components.runtime.images import PinnedImage as PinnedImage
from components.runtime.images import image_version as image_version
from components.runtime.quantities import CPU_PATTERN, MEMORY_PATTERN, cpu_cores, memory_bytes
from components.runtime.stack import SettingsModel
from components.runtime.workload import Resources

CpuQuantity = Annotated[str, Field(pattern=CPU_PATTERN)]
MemoryQuantity = Annotated[str, Field(pattern=MEMORY_PATTERN)]


class ResourceSettings(SettingsModel):
    """CPU and memory requests and limits of one container; requests never exceed limits."""

    cpu_request: CpuQuantity
    cpu_limit: CpuQuantity
    memory_request: MemoryQuantity
    memory_limit: MemoryQuantity

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        if cpu_cores(self.cpu_request) <= 0 or memory_bytes(self.memory_request) <= 0:
            raise ValueError("requests must be positive")
        if cpu_cores(self.cpu_request) > cpu_cores(self.cpu_limit):
            raise ValueError(f"cpuRequest {self.cpu_request} exceeds cpuLimit {self.cpu_limit}")
        if memory_bytes(self.memory_request) > memory_bytes(self.memory_limit):
            raise ValueError(
                f"memoryRequest {self.memory_request} exceeds memoryLimit {self.memory_limit}"
            )
        return self

    def to_resources(self) -> Resources:
        """The runtime's view of these settings."""
        return Resources(
            cpu_request=self.cpu_request,
            cpu_limit=self.cpu_limit,
            memory_request=self.memory_request,
            memory_limit=self.memory_limit,
        )


def _positive_size(value: str) -> str:
    if memory_bytes(value) <= 0:
        raise ValueError(f"volume size must be positive, got {value!r}")
    return value


VolumeSize = Annotated[str, Field(pattern=MEMORY_PATTERN), AfterValidator(_positive_size)]
"""A persistent volume size such as `20Gi`."""


class DataClassification(StrEnum):
    """How sensitive the data in a store is; recorded as `dataplatform.io/data-classification`."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class AdminEndpoint(SettingsModel):
    """Where the machine running `pulumi up` reaches a server's admin port, when fixed.

    Docker: the port published on loopback (host 127.0.0.1). Kubernetes: leave it out and
    the deploy creates the way in (an internal load balancer, docs/architecture.md); give
    it only to use an address that already exists (a VPN name, a port-forward). Whether
    the connection uses TLS follows the server's own settings.
    """

    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(ge=1, le=65535)
