"""Images: pinned, from allowed registries, by digest where the stack demands it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from . import wire


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference: `registry/repository:tag@digest`."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(reference: str) -> ImageReference:
    """Split an image reference the way Docker does (Docker Hub is `docker.io`)."""
    rest, _, digest = reference.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
    name, colon, tag = path.rpartition(":")
    if not colon or "/" in tag:
        name, tag = path, ""
    return ImageReference(registry, name, tag or None, digest or None)


def image_references(resource_type: str, props: Any) -> list[tuple[str, str]]:
    """(where, image reference) of every known image a resource runs or pulls.

    A Docker container whose `image` is an image ID (`sha256:...`, from a RemoteImage)
    is pinned by content; its RemoteImage carries the reference that is checked.
    """
    found: list[tuple[str, str]] = []
    spec = wire.pod_spec(resource_type, props)
    if spec is not None:
        for container in wire.containers(spec):
            image = wire.text(wire.get(container, "image"))
            if image is not None:
                found.append((f"container '{wire.container_name(container)}'", image))
    elif resource_type == wire.DOCKER_IMAGE:
        image = wire.text(wire.get(props, "name"))
        if image is not None:
            found.append(("remote image", image))
    elif resource_type == wire.DOCKER_CONTAINER:
        image = wire.text(wire.get(props, "image"))
        if image is not None and not image.startswith("sha256:"):
            found.append(("container", image))
    return found


def validate_pinned(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Images name an exact tag or a digest, never `latest` or nothing."""
    for where, image in image_references(args.resource_type, args.props):
        ref = parse_image(image)
        if ref.digest:
            continue
        if ref.tag is None:
            report(f"{where} runs '{image}' without a tag (implicitly latest).", None)
        elif ref.tag.lower() == "latest":
            report(f"{where} runs '{image}': the latest tag is never pinned.", None)


REGISTRY_SCHEMA: dict[str, dict[str, Any]] = {
    "allowedRegistries": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["docker.io", "quay.io", "ghcr.io", "registry.k8s.io"],
    }
}


def validate_registry(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Images come from a registry on the allow-list."""
    allowed = list(wire.setting(args, REGISTRY_SCHEMA, "allowedRegistries"))
    for where, image in image_references(args.resource_type, args.props):
        registry = parse_image(image).registry
        if registry not in allowed:
            report(
                f"{where} pulls '{image}' from {registry}, not an allowed registry "
                f"({', '.join(allowed)}).",
                None,
            )


DIGEST_SCHEMA: dict[str, dict[str, Any]] = {
    "requireDigest": {"type": "boolean", "default": False},
}


def validate_digest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Where the stack requires it, images are referenced by digest (`@sha256:...`)."""
    if not wire.setting(args, DIGEST_SCHEMA, "requireDigest"):
        return
    for where, image in image_references(args.resource_type, args.props):
        if not parse_image(image).digest:
            report(f"{where} runs '{image}' by tag; this stack requires '@sha256:' digests.", None)


image_tag_pinned = ResourceValidationPolicy(
    name="image-tag-pinned",
    description=(
        "Every container image (Kubernetes workloads, Docker containers and remote images) "
        "is pinned to an exact tag or digest: never untagged, never `latest`."
    ),
    validate=validate_pinned,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    remediation_steps="Pin the image to an exact release tag (or digest) in the stack config.",
    tags=["images", "supply-chain"],
)

image_registry_allowed = ResourceValidationPolicy(
    name="image-registry-allowed",
    description="Every container image is pulled from a registry on the stack's allow-list.",
    validate=validate_registry,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=REGISTRY_SCHEMA),
    remediation_steps=(
        "Mirror the image into an allowed registry, or add the registry to "
        "allowedRegistries in policies/config/<stack>.json after review."
    ),
    tags=["images", "supply-chain"],
)

image_digest_required = ResourceValidationPolicy(
    name="image-digest-required",
    description=(
        "When the stack's policy config sets requireDigest, every image is referenced by "
        "digest (`image@sha256:...`), so a re-pushed tag cannot change what runs."
    ),
    validate=validate_digest,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    config_schema=PolicyConfigSchema(properties=DIGEST_SCHEMA),
    remediation_steps="Append the image digest to the pinned tag: `repo:tag@sha256:<digest>`.",
    tags=["images", "supply-chain"],
)

POLICIES = [image_tag_pinned, image_registry_allowed, image_digest_required]
"""The image policies."""
