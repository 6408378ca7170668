"""A workload's files and secrets as Kubernetes objects: one ConfigMap and one Secret.

Config files become ConfigMap keys, secret files and secret env become Secret keys (key
names derived from paths and variable names); `pods` mounts them as projected volumes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.runtime.kubernetes.placement import Placement

core = k8s.core.v1


def config_map_name(workload_name: str) -> str:
    """The ConfigMap holding a workload's config files."""
    return f"{workload_name}-config"


def secret_name(workload_name: str) -> str:
    """The Secret holding a workload's secret files and secret env."""
    return f"{workload_name}-secrets"


def file_key(path: str) -> str:
    """ConfigMap/Secret key of a file: `/etc/trino/config.properties` -> `etc-trino-config.properties`."""
    return path.strip("/").replace("/", "-")


def env_key(name: str) -> str:
    """Secret key of a secret env variable: `DB_PASSWORD` -> `env-db-password`."""
    return f"env-{name.lower().replace('_', '-')}"


def key_items(paths: Sequence[str]) -> list[core.KeyToPathArgs]:
    """Projection items placing each key under its file's base name."""
    return [core.KeyToPathArgs(key=file_key(p), path=posixpath.basename(p)) for p in sorted(paths)]


def config_map(place: Placement) -> core.ConfigMap | None:
    """The workload's ConfigMap, or None when it has no config files."""
    workload = place.workload
    if not workload.config_files:
        return None
    return core.ConfigMap(
        f"{place.prefix}-config",
        metadata=place.meta(config_map_name(place.name)),
        data={file_key(f.path): f.content for f in workload.config_files},
        opts=place.options(),
    )


def secret(place: Placement) -> core.Secret | None:
    """The workload's Secret (values stay secret Outputs), or None when it has no secrets."""
    workload = place.workload
    if not workload.secret_env and not workload.secret_files:
        return None
    string_data: dict[str, pulumi.Input[str]] = {}
    for key, value in sorted(workload.secret_env.items()):
        string_data[env_key(key)] = pulumi.Output.secret(value)
    for secret_file in workload.secret_files:
        string_data[file_key(secret_file.path)] = pulumi.Output.secret(secret_file.content)
    return core.Secret(
        f"{place.prefix}-secrets",
        metadata=place.meta(secret_name(place.name)),
        type="Opaque",
        string_data=string_data,
        opts=place.options(),
    )
