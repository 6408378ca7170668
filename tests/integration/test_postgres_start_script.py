"""The container's own start script (components/postgres/scripts.py) on the real server binaries.

Field failure 3: with pod `fsGroup` (and kubelet's default fsGroupChangePolicy `Always`)
every mount makes the data directory group-writable, and PostgreSQL then refuses to
start. These tests run the component's start script with prod settings (paths
localised, nothing else changed), replay kubelet's ownership change between starts and
check the server comes back. Secrets arrive as a projected Secret volume delivers them
(root:fsGroup, 0440).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.postgres.scripts import start_script
from tests.integration.pg_cluster import (
    ContainerFiles,
    container_files,
    deliver_secret,
    kubelet_fsgroup,
    localised_start_script,
    require_postgres,
    run_start_script,
    stack_postgres_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def files(request: pytest.FixtureRequest) -> Iterator[ContainerFiles]:
    """A pod's files for the stack named by the test's `stack` parameter (prod by default)."""
    require_postgres()
    stack = getattr(request, "param", "prod")
    root = Path(tempfile.mkdtemp(prefix=f"pg-start-{stack}-"))
    try:
        yield container_files(root, stack_postgres_settings(stack))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def script(files: ContainerFiles) -> str:
    """The component's start script for these settings, paths localised."""
    return localised_start_script(files, start_script(files.settings))


@pytest.mark.parametrize("files", ["prod", "dev"], indirect=True)
def test_server_restarts_after_the_volume_is_remounted(files: ContainerFiles) -> None:
    first = run_start_script(files, script(files))
    assert first.ready, first.output
    kubelet_fsgroup(files.volume, files.fs_group)  # pod re-created: volume mounted again
    assert files.pgdata.stat().st_mode & 0o070 == 0o070  # what PostgreSQL used to refuse
    second = run_start_script(files, script(files))
    assert second.ready, second.output
    assert "invalid permissions" not in second.output
    assert second.pgdata_mode is not None and second.pgdata_mode & 0o077 == 0
    kubelet_fsgroup(files.volume, files.fs_group)
    assert run_start_script(files, script(files)).ready  # and again: every remount


def test_admin_role_settings_are_applied_on_every_start(files: ContainerFiles) -> None:
    """The admin's failed statements are not echoed to the log (field failure 4, for
    passwords people type), from the first start on."""
    first = run_start_script(files, script(files))
    assert first.ready and first.admin_log_min_error_statement == "panic", first.output
    assert run_start_script(files, script(files)).admin_log_min_error_statement == "panic"


def test_tls_key_from_a_world_readable_upload_is_accepted(files: ContainerFiles) -> None:
    """Docker uploads secret files 0444; the script hands the server a private copy."""
    (files.secrets / "tls.key").chmod(0o444)
    result = run_start_script(files, script(files))
    assert result.ready, result.output


@pytest.mark.parametrize("content", [None, "", "\n  \n"], ids=["absent", "empty", "blank"])
def test_no_start_without_the_superuser_password_file(
    files: ContainerFiles, content: str | None
) -> None:
    """No fallback to an empty or default password, on a fresh or an existing volume."""
    password = files.secrets / "superuser-password"
    saved = password.read_text()

    def set_secret(text: str | None) -> None:
        password.unlink(missing_ok=True)
        if text is not None:
            password.write_text(text)
            deliver_secret(files, password)

    set_secret(content)
    fresh = run_start_script(files, script(files))
    assert not fresh.ready and fresh.exit_code != 0
    assert f"{password} is missing or empty" in fresh.output
    assert not (files.pgdata / "PG_VERSION").exists()  # initdb never ran

    set_secret(saved)
    assert run_start_script(files, script(files)).ready  # initialised with the real one
    set_secret(content)
    existing = run_start_script(files, script(files))
    assert not existing.ready and existing.exit_code != 0
    assert f"{password} is missing or empty" in existing.output


def test_no_start_without_the_tls_key(files: ContainerFiles) -> None:
    (files.secrets / "tls.key").unlink()
    result = run_start_script(files, script(files))
    assert not result.ready and "tls.key is missing or empty" in result.output
