"""Settings types shared by several service components: pinned images and sizes."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Self

from pydantic import AfterValidator, Field, model_validator

from components.runtime.quantities import CPU_PATTERN, MEMORY_PATTERN, cpu_cores, memory_bytes
from components.runtime.stack import SettingsModel
from components.runtime.workload import Resources

_REPOSITORY = re.compile(
    r"^([a-z0-9]+([.-][a-z0-9]+)*(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
_FLOATING_TAGS = {"latest", "stable", "main", "master", "edge", "nightly", "dev"}


def _split_image(image: str) -> tuple[str, str | None, str | None]:
    """`registry:port/repo:tag@digest` -> (repository, tag, digest).

    The tag is what follows the last `:` after the last `/`, so a registry port
    (`registry:5000/repo`) is never mistaken for a tag, nor a numeric tag (`trino:483`)
    for a port.
    """
    name, _, digest = image.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1 :], digest or None
    return name, None, digest or None


def _pinned(image: str) -> str:
    repository, tag, digest = _split_image(image)
    if (
        not _REPOSITORY.match(repository)
        or (tag is not None and not _TAG.match(tag))
        or (digest is not None and not _DIGEST.match(digest))
    ):
        raise ValueError(f"not an image reference: {image!r}")
    if tag is None and digest is None:
        raise ValueError(f"image {image!r} has no tag: pin an exact version")
    if tag is not None and (tag.lower() in _FLOATING_TAGS or not any(c.isdigit() for c in tag)):
        raise ValueError(f"image {image!r} uses the floating tag {tag!r}: pin an exact version")
    return image


PinnedImage = Annotated[str, AfterValidator(_pinned)]
"""An image reference pinned to an exact version tag (or digest); `latest` is refused."""

CpuQuantity = Annotated[str, Field(pattern=CPU_PATTERN)]
MemoryQuantity = Annotated[str, Field(pattern=MEMORY_PATTERN)]


def image_version(image: str) -> str:
    """The tag of a pinned image, used as the `app.kubernetes.io/version` label."""
    _, tag, _ = _split_image(image)
    return tag or "digest"


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
    """Where the operator's machine (running `pulumi up`) reaches a server's admin port."""

    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    tls: bool = False
