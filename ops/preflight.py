"""Deploy prerequisites: what `pulumi up` for a stack needs on this machine, checked up front.

The stack config is validated first (a bad config raises `ConfigError`, a missing one
`UserError`). Then each check returns a sentence saying what is missing and how to get
it, so a deploy stops before it starts instead of failing halfway:

- the Pulumi CLI, a secrets passphrase, the stack's policy pack config
  (`policies/config/<stack>.json`, which `make up` and `make preview` pass to the pack);
- `target: docker`: a Docker Engine >= 26 at the stack's `docker.host` (config files
  reach read-only containers through volume sub-path mounts, new in Engine 26);
- `target: kubernetes`: the stack's kubectl context answers, and every
  `adminAccess` endpoint accepts a TCP connection (the MinIO and PostgreSQL providers
  configure buckets, users and roles through them while `pulumi up` runs). On Docker
  those ports are published by the deploy itself, so they are not checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from infra.config import PlatformConfig
from ops.check import POLICY_CONFIG_DIR
from ops.render import existing_stack_file, load_stack_config, secure_values, stack_file

PLACEHOLDER_MARK = "Placeholder"
"""What a `secure:` value in a committed stack file holds until its operator sets the real
secret (a real ciphertext is made by `pulumi config set --secret` and never holds it)."""

_TIMEOUT = 15
CONNECT_TIMEOUT = 3.0
"""Seconds to wait for a TCP connection to an admin endpoint."""
MIN_DOCKER_ENGINE = 26


def _run(command: list[str]) -> tuple[int, str]:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return 1, str(error)
    return done.returncode, (done.stdout + done.stderr).strip()


def _last_line(output: str) -> str:
    return output.splitlines()[-1] if output else "no output"


def _pulumi_cli() -> str | None:
    if shutil.which("pulumi") is None:
        return (
            "the Pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) "
            "and re-open the shell"
        )
    return None


def _secrets_provider(path: Path) -> str | None:
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE") or os.environ.get(
        "PULUMI_CONFIG_PASSPHRASE_FILE"
    ):
        return None
    document = path.read_text()
    if "secretsprovider:" in document and "passphrase" not in document:
        return None  # a cloud KMS secrets provider needs no passphrase
    return (
        "no secrets passphrase: export PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) "
        "for the local file backend, or set a KMS `secretsprovider` in the stack file"
    )


def placeholder_secret_problems(stack: str, path: Path) -> list[str]:
    """Each `secure:` value still holding the repository's placeholder, with the command
    that sets it (the engine would fail to decrypt it, mid-deploy, without saying which)."""
    return [
        f"{path.name}: {key} is a placeholder; set the real secret with "
        f"`pulumi config set --path --secret '{key.partition(':')[2]}' <value> --stack {stack}`"
        for key, ciphertext in secure_values(path)
        if PLACEHOLDER_MARK in ciphertext
    ]


def policy_config_problem(stack: str, directory: Path = POLICY_CONFIG_DIR) -> str | None:
    """Why `policies/config/<stack>.json` cannot go to `--policy-pack-config`, or None."""
    path = directory / f"{stack}.json"
    if not path.is_file():
        environment = stack.split("-")[0]
        return (
            f"no policy pack config {path}: `make up` and "
            f"`make preview` pass it to the pack; create it (e.g. copy "
            f"policies/config/{environment}.json)"
        )
    try:
        document = json.loads(path.read_text())
    except (ValueError, OSError) as error:
        return f"policy pack config {path} is not valid JSON: {error}"
    if not isinstance(document, dict):
        return f"policy pack config {path} must be a JSON object of policy names"
    return None


def docker_version_problem(output: str) -> str | None:
    """Whether `docker version --format {{.Server.Version}}` output is an Engine >= 26."""
    version = output.strip().splitlines()[-1].strip() if output.strip() else ""
    match = re.match(r"^(\d+)\.(\d+)", version)
    if match is None:
        return f"cannot read the Docker Engine version from {version or 'empty output'!r}"
    if int(match.group(1)) < MIN_DOCKER_ENGINE:
        return (
            f"Docker Engine {version} is too old: {MIN_DOCKER_ENGINE} or newer mounts config "
            "files into read-only containers (volume sub-paths); upgrade Docker Engine"
        )
    return None


def _docker_engine(host: str) -> str | None:
    if shutil.which("docker") is None:
        return "the docker client is not installed: install Docker Engine or Docker Desktop"
    code, output = _run(["docker", "-H", host, "version", "--format", "{{.Server.Version}}"])
    if code != 0:
        return f"no Docker engine answers ({_last_line(output)}): start dockerd"
    return docker_version_problem(output)


def _kubernetes_context(context: str | None) -> str | None:
    if shutil.which("kubectl") is None:
        return "kubectl is not installed: install it to check the cluster context"
    command = ["kubectl", "version", "--request-timeout=10s", "-o", "json"]
    if context:
        command += ["--context", context]
    code, output = _run(command)
    if code != 0:
        return (
            f"Kubernetes context {context or '(current)'} is not reachable ({_last_line(output)})"
        )
    return None


def admin_endpoint_problem(service: str, host: str, port: int) -> str | None:
    """Whether `host:port` accepts a TCP connection within `CONNECT_TIMEOUT` seconds."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return None
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
    return (
        f"data-platform:adminAccess.{service} {host}:{port} is not reachable ({reason}): "
        f"the {service} provider configures the server through it during `pulumi up`; "
        "start the port-forward or network route that reaches it"
    )


def _target_checks(config: PlatformConfig) -> list[Callable[[], str | None]]:
    if config.docker is not None:
        host = config.docker.host
        return [lambda: _docker_engine(host)]
    context = config.kubernetes.context if config.kubernetes else None
    checks: list[Callable[[], str | None]] = [lambda: _kubernetes_context(context)]
    # Fixed addresses only: the admin load balancers do not exist before the deploy.
    for service, endpoint in config.admin_access:
        if endpoint is not None:
            checks.append(lambda s=service, e=endpoint: admin_endpoint_problem(s, e.host, e.port))
    return checks


def check_prerequisites(
    stack: str, *, root: Path | None = None, config_file: Path | None = None
) -> list[str]:
    """Every missing prerequisite for deploying `stack`; empty when it can go ahead.

    Reads `config_file`, else `Pulumi.<stack>.yaml` in `root` (default the project);
    raises `UserError`/`ConfigError` when that file is missing or invalid.
    """
    default = stack_file(stack) if root is None else stack_file(stack, root)
    path = existing_stack_file(stack, config_file or default)
    config = load_stack_config(stack, path)
    checks: list[Callable[[], str | None]] = [
        _pulumi_cli,
        lambda: _secrets_provider(path),
        lambda: policy_config_problem(stack),
        *_target_checks(config),
    ]
    problems = [problem for check in checks if (problem := check()) is not None]
    return problems + placeholder_secret_problems(stack, path)
