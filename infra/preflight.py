"""Deploy prerequisites: what `pulumi up` for a stack needs on this machine, checked up front.

Each check returns a sentence saying what is missing and how to get it, so a deploy
stops before it starts instead of failing halfway.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from infra.render import stack_file, stack_sections

_TIMEOUT = 15


def _run(command: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return 1, str(error)
    return done.returncode, (done.stdout + done.stderr).strip()


def _pulumi_cli() -> str | None:
    if shutil.which("pulumi") is None:
        return (
            "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) "
            "and re-open the shell"
        )
    return None


def _secrets_provider(stack: str) -> str | None:
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE") or os.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        return None
    document = stack_file(stack).read_text()
    if "secretsprovider:" in document and "passphrase" not in document:
        return None  # a cloud KMS secrets provider needs no passphrase
    return (
        "no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
        "for the local file backend, or set a KMS `secretsprovider` in the stack file"
    )


def _docker_engine() -> str | None:
    if shutil.which("docker") is None:
        return "the docker client is not installed: install Docker Engine or Docker Desktop"
    code, output = _run(["docker", "info", "--format", "{{.ServerVersion}}"])
    if code != 0:
        return f"no Docker engine answers ({output.splitlines()[-1] if output else 'no output'}): start dockerd"
    return None


def _kubernetes_context(context: str | None) -> str | None:
    if shutil.which("kubectl") is None:
        return "kubectl is not installed: install it to check the cluster context"
    command = ["kubectl", "version", "--request-timeout=10s", "-o", "json"]
    if context:
        command += ["--context", context]
    code, output = _run(command)
    if code != 0:
        detail = output.splitlines()[-1] if output else "no output"
        return f"Kubernetes context {context or '(current)'} is not reachable ({detail})"
    return None


def check_prerequisites(stack: str, *, root: Path | None = None) -> list[str]:
    """Every missing prerequisite for deploying `stack`; empty when it can go ahead."""
    path = stack_file(stack) if root is None else stack_file(stack, root)
    if not path.exists():
        return [f"no stack config {path.name}: create it (see Pulumi.dev.yaml)"]
    sections = stack_sections(path)
    platform = sections.get("platform", {})
    target = platform.get("target")
    checks: list[Callable[[], str | None]] = [_pulumi_cli, lambda: _secrets_provider(stack)]
    if target == "docker":
        checks.append(_docker_engine)
    elif target == "kubernetes":
        kubernetes = sections.get("kubernetes", {})
        checks.append(lambda: _kubernetes_context(kubernetes.get("context")))
    else:
        return [f"data-platform:platform.target must be docker or kubernetes, got {target!r}"]
    return [problem for check in checks if (problem := check()) is not None]
