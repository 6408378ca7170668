"""Docker runtime: one network per stack, workloads as containers on one Docker engine.

Modules, one concern each: `settings` (which engine, helper image), `runtime` (provider,
network, images and the per-workload orchestration), `containers` (a container's
arguments: env, security, limits, healthcheck), `volumes` (named volumes handed to the
non-root user), `files` (config and secret files through a read-only volume) and
`schedule` (scheduled workloads on an engine that has no scheduler).
"""

from components.runtime.docker.runtime import DockerRuntime
from components.runtime.docker.settings import DockerSettings

__all__ = ["DockerRuntime", "DockerSettings"]
