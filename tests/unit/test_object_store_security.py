"""MinIO credentials and transport: secrets arrive as files, never as defaults; TLS off dev.

Field failure 11 (prod MinIO served S3 in clear text) and the secrets-as-files rule: MinIO
silently falls back to `minioadmin` when a `MINIO_ROOT_*_FILE` path is missing, so the
start script must refuse to start instead.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.object_store import ROOT_PASSWORD_FILE, ROOT_USER_FILE, start_script
from infra.config import ConfigError, parse_config
from ops.render import Render, load_stack_config, stack_sections
from tests.conftest import KUBERNETES_STACKS, STACKS, cached_render, docker_files


def _minio_container(render: Render) -> dict[str, Any]:
    for resource in render.of_type("kubernetes:apps/v1:StatefulSet"):
        if resource["name"].endswith("minio-server"):
            return resource["inputs"]["spec"]["template"]["spec"]["containers"][0]
    raise AssertionError("no MinIO StatefulSet")


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_minio_takes_no_secret_from_env(stack: str) -> None:
    container = _minio_container(cached_render(stack))
    env = {e["name"]: e for e in container["env"]}
    assert not [e for e in env.values() if "valueFrom" in e], "secrets must be files"
    assert "MINIO_ROOT_USER" not in env and "MINIO_ROOT_PASSWORD" not in env
    assert env["MINIO_ROOT_USER_FILE"]["value"] == ROOT_USER_FILE
    assert env["MINIO_ROOT_PASSWORD_FILE"]["value"] == ROOT_PASSWORD_FILE


def test_dev_minio_gets_root_credentials_as_uploaded_files() -> None:
    files = docker_files(cached_render("dev"), "dp-dev-minio-server")
    assert files[ROOT_USER_FILE] == "[secret]"
    assert files[ROOT_PASSWORD_FILE] == "[secret]"


@pytest.mark.parametrize("stack", KUBERNETES_STACKS)
def test_minio_serves_tls_outside_dev(stack: str) -> None:
    render = cached_render(stack)
    container = _minio_container(render)
    assert "--certs-dir" in container["args"]
    [provider] = render.of_type("pulumi:providers:minio")
    assert provider["inputs"]["minioSsl"] == "true"


@pytest.mark.parametrize("stack", ("test", "prod"))
def test_tls_off_is_refused_outside_dev(stack: str) -> None:
    sections = stack_sections(Path(f"Pulumi.{stack}.yaml"))
    sections["objectStore"] = {**sections["objectStore"], "tls": False}
    with pytest.raises(ConfigError, match=re.escape("objectStore.tls must be true")):
        parse_config(stack, sections)


def _fake_minio(directory: Path) -> Path:
    """A `minio` on PATH that records its arguments and the credentials it would read."""
    binary = directory / "minio"
    binary.write_text('#!/bin/sh\necho "started $*"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return directory


def _run_start_script(
    tmp_path: Path, *, user: str | None, password: str | None
) -> subprocess.CompletedProcess[str]:
    bin_dir = _fake_minio(tmp_path)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    for name, value in (("MINIO_ROOT_USER_FILE", user), ("MINIO_ROOT_PASSWORD_FILE", password)):
        path = tmp_path / name.lower()
        if value is not None:
            path.write_text(value)
        env[name] = str(path)
    return subprocess.run(
        ["/bin/sh", "-c", start_script(tls=False), "minio", "server", "/data"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("user", "password"), [(None, "pw"), ("admin", None), ("", "pw"), ("admin", "")]
)
def test_minio_refuses_to_start_without_credential_files(
    tmp_path: Path, user: str | None, password: str | None
) -> None:
    result = _run_start_script(tmp_path, user=user, password=password)
    assert result.returncode == 1
    assert "refusing to start" in result.stderr
    assert "started" not in result.stdout


def test_minio_starts_with_credential_files(tmp_path: Path) -> None:
    result = _run_start_script(tmp_path, user="admin", password="pw")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started server /data"


def test_every_stack_config_still_loads() -> None:
    for stack in STACKS:
        assert load_stack_config(stack).object_store.tls is (stack != "dev")
