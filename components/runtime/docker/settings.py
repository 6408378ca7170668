"""Which Docker engine the runtime talks to, and its helper image."""

from __future__ import annotations

from components.runtime.images import PinnedImage
from components.runtime.stack import SettingsModel


class DockerSettings(SettingsModel):
    """Which Docker engine to talk to, and the helper image that prepares volumes."""

    host: str = "unix:///var/run/docker.sock"
    volume_init_image: PinnedImage = "docker.io/library/busybox:1.37.0"
