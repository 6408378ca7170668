"""Operator commands besides render: preflight says what a deploy lacks; diff says what changes."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import ConfigError
from ops.cli import main
from ops.diff import diff_renders, format_diff
from ops.preflight import check_prerequisites
from tests.conftest import cached_render, render_json


def _fake_tool(directory: Path, name: str, exit_code: int, output: str = "") -> None:
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only the fake tools a test puts there (plus /bin for sh)."""
    tools = tmp_path / "bin"
    tools.mkdir()
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}/bin")
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
    return tools


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback TCP port that accepts connections while the test runs."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


CIPHERTEXT = "v1:c2FsdA==:Y2lwaGVy"
"""What `pulumi config set --secret` writes with a passphrase (shape only)."""


def _stack_copy(
    tmp_path: Path, stack: str, edit: Callable[[dict[str, Any]], None], name: str | None = None
) -> Path:
    """`Pulumi.<stack>.yaml` copied to tmp_path (as Pulumi.<name>.yaml) with `edit` applied,
    its placeholder secrets set as an operator sets them (a real ciphertext)."""
    text = Path(f"Pulumi.{stack}.yaml").read_text()
    document = yaml.safe_load(re.sub(r"secure: \S*Placeholder\S*", f"secure: {CIPHERTEXT}", text))
    edit(document["config"])
    path = tmp_path / f"Pulumi.{name or stack}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _admin_ports(minio: int, postgres: int) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        # A fixed address (e.g. a port-forward) instead of the admin load balancers.
        config["data-platform:adminAccess"] = {
            "minio": {"host": "127.0.0.1", "port": minio},
            "postgres": {"host": "127.0.0.1", "port": postgres},
        }

    return edit


def test_preflight_lists_every_missing_prerequisite_for_dev(bare_path: Path) -> None:
    problems = check_prerequisites("dev")
    assert len(problems) == 3
    assert "Pulumi CLI is not on PATH" in problems[0]
    assert "PULUMI_CONFIG_PASSPHRASE" in problems[1]
    assert "docker client is not installed" in problems[2]


@pytest.mark.parametrize(
    ("version", "accepted"),
    [
        ("25.0.3", False),
        ("20.10.24", False),
        ("26.0.0", True),
        ("27.3.1", True),
        ("28.0.0-rc.1", True),
    ],
)
def test_preflight_requires_docker_engine_26(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, version: str, accepted: bool
) -> None:
    """The README promises Engine >= 26 (volume sub-path mounts); preflight used not to look."""
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "docker", 0, version)
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    problems = check_prerequisites("dev")
    if accepted:
        assert problems == []
    else:
        [problem] = problems
        assert problem.startswith(f"Docker Engine {version} is too old: 26 or newer")


def test_preflight_reports_an_unreadable_docker_version(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "docker", 0, "")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert check_prerequisites("dev") == [
        "cannot read the Docker Engine version from 'empty output'"
    ]


def test_preflight_checks_that_each_admin_endpoint_answers(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, listening_port: int
) -> None:
    """The MinIO and PostgreSQL providers need adminAccess during `pulumi up`; preflight connects."""
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "kubectl", 0, "{}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    closed = _closed_port()
    config = _stack_copy(tmp_path, "test", _admin_ports(listening_port, closed))
    [problem] = check_prerequisites("test", config_file=config)
    assert problem.startswith(
        f"data-platform:adminAccess.postgres 127.0.0.1:{closed} is not reachable ("
    )
    assert "port-forward" in problem


def test_preflight_validates_the_stack_config_first(
    bare_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad stack file is a config error (exit 2), not a list of missing tools."""
    config = _stack_copy(
        tmp_path, "dev", lambda c: c["data-platform:platform"].update(environment="prod")
    )
    with pytest.raises(ConfigError, match=r"data-platform:platform\.environment"):
        check_prerequisites("dev", config_file=config)
    assert main(["preflight", "dev", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "stack 'dev' has invalid config" in err and "got 'prod'" in err


def test_preflight_asks_for_the_policy_config_a_new_stack_needs(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`make up STACK=prod-dr` passes policies/config/prod-dr.json to the pack: it must exist."""
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "kubectl", 0, "{}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    with (
        socket.create_server(("127.0.0.1", 0)) as minio,
        socket.create_server(("127.0.0.1", 0)) as postgres,
    ):
        edit = _admin_ports(minio.getsockname()[1], postgres.getsockname()[1])
        _stack_copy(tmp_path, "prod", edit, name="prod-dr")
        [problem] = check_prerequisites("prod-dr", root=tmp_path)
    assert problem.startswith("no policy pack config ")
    assert "policies/config/prod-dr.json" in problem and "policies/config/prod.json" in problem


def test_preflight_reports_a_docker_client_without_engine(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "docker", 1, "Cannot connect to the Docker daemon")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert check_prerequisites("dev") == [
        "no Docker engine answers (Cannot connect to the Docker daemon): start dockerd"
    ]


def test_preflight_checks_the_stack_kubernetes_context(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "kubectl", 1, "context was not found")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    problems = check_prerequisites("prod")
    assert "Kubernetes context data-platform-prod is not reachable" in problems[0]
    # prod's providers use the admin load balancers the deploy creates: nothing to dial yet;
    # the committed file's placeholder secrets are for its operator to set.
    assert all("is a placeholder; set the real secret" in p for p in problems[1:])


def test_preflight_passes_when_everything_is_there(
    bare_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    listening_port: int,
) -> None:
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "kubectl", 0, "{}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    config = _stack_copy(tmp_path, "test", _admin_ports(listening_port, listening_port))
    assert main(["preflight", "test", "--config", str(config)]) == 0
    assert "prerequisites present" in capsys.readouterr().out


def test_preflight_exit_status_is_non_zero_when_something_is_missing(bare_path: Path) -> None:
    assert main(["preflight", "dev"]) == 1


def test_diff_of_identical_renders_is_empty() -> None:
    render = render_json(cached_render("prod"))
    changes = diff_renders(render, render)
    assert changes["added"] == changes["removed"] == [] and changes["changed"] == {}


def test_diff_reports_a_changed_lifecycle_rule(tmp_path: Path) -> None:
    base = render_json(cached_render("prod"))
    head = json.loads(json.dumps(base))
    for resource in head["resources"]:
        if resource["name"] == "dp-prod-minio-bucket-gold-lifecycle":
            resource["inputs"]["rules"][0]["expiration"] = "1d"
    head["resources"] = [r for r in head["resources"] if r["name"] != "dp-prod-minio-bucket-audit"]
    changes = diff_renders(base, head)
    assert changes["removed"] == ["minio:index/s3Bucket:S3Bucket::minio-bucket-audit"]
    assert changes["changed"] == {
        "minio:index/ilmPolicy:IlmPolicy::minio-bucket-gold-lifecycle": ["inputs.rules"]
    }
    text = format_diff(changes)
    assert "0 to add, 1 to change, 1 to remove" in text


def test_diff_command_compares_two_stacks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "test.json"
    out.write_text(cached_render("test").to_json())
    assert main(["diff", str(out), "prod", "--json"]) == 0
    changes = json.loads(capsys.readouterr().out)
    assert changes["from"] == "test" and changes["to"] == "prod"
    # prod runs Trino workers, which test does not.
    assert "kubernetes:apps/v1:Deployment::trino-worker" in changes["added"]
    assert changes["removed"] == []
    bucket = changes["changed"]["minio:index/s3Bucket:S3Bucket::minio-bucket-audit"]
    assert "inputs.objectLocking" in bucket and "options.protect" in bucket


def test_stack_files_are_plain_yaml_with_project_keys() -> None:
    for stack in ("dev", "test", "prod"):
        document = yaml.safe_load(Path(f"Pulumi.{stack}.yaml").read_text())
        assert all(key.startswith("data-platform:") for key in document["config"])


def test_preflight_names_each_placeholder_secret_and_how_to_set_it(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A committed stack file's placeholder `secure:` value would fail `pulumi up` mid-way."""
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "kubectl", 0, "{}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")

    def webhook(config: dict[str, Any]) -> None:
        alerts = config["data-platform:dagster"].setdefault("alerts", {})
        alerts["slackWebhook"] = {"secure": "AAABAPlaceholderSetWithPulumiConfigSetPathSecret"}

    config = _stack_copy(tmp_path, "prod", webhook)
    problems = check_prerequisites("prod", config_file=config)
    assert problems == [
        "Pulumi.prod.yaml: data-platform:dagster.alerts.slackWebhook is a placeholder; set the "
        "real secret with `pulumi config set --path --secret 'dagster.alerts.slackWebhook' "
        "<value> --stack prod`"
    ]
    real = _stack_copy(
        tmp_path,
        "prod",
        lambda c: (
            webhook(c)
            or c["data-platform:dagster"]["alerts"].update(
                slackWebhook={"secure": "v1:c2FsdA==:Y2lwaGVy"}
            )
        ),
    )
    assert check_prerequisites("prod", config_file=real) == []
