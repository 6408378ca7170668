"""Container image references: pinned versions only, and the version they carry."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

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


def image_version(image: str) -> str:
    """The tag of a pinned image, used as the `app.kubernetes.io/version` label."""
    _, tag, _ = _split_image(image)
    return tag or "digest"
