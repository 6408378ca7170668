"""Operator commands besides render: preflight says what a deploy lacks; diff says what changes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from infra.cli import main
from infra.diff import diff_renders, format_diff
from infra.preflight import check_prerequisites
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


def test_preflight_lists_every_missing_prerequisite_for_dev(bare_path: Path) -> None:
    problems = check_prerequisites("dev")
    assert len(problems) == 3
    assert "Pulumi CLI is not on PATH" in problems[0]
    assert "PULUMI_CONFIG_PASSPHRASE" in problems[1]
    assert "docker client is not installed" in problems[2]


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
    [problem] = check_prerequisites("prod")
    assert "Kubernetes context data-platform-prod is not reachable" in problem


def test_preflight_passes_when_everything_is_there(
    bare_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_tool(bare_path, "pulumi", 0)
    _fake_tool(bare_path, "kubectl", 0, "{}")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "x")
    assert main(["preflight", "test"]) == 0
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
    # prod admits its admin network to the MinIO API; test reaches it by port-forward only.
    assert (
        "kubernetes:networking.k8s.io/v1:NetworkPolicy::minio-server-admin-ingress"
        in changes["added"]
    )
    assert changes["removed"] == []
    bucket = changes["changed"]["minio:index/s3Bucket:S3Bucket::minio-bucket-audit"]
    assert "inputs.objectLocking" in bucket and "options.protect" in bucket


def test_stack_files_are_plain_yaml_with_project_keys() -> None:
    for stack in ("dev", "test", "prod"):
        document = yaml.safe_load(Path(f"Pulumi.{stack}.yaml").read_text())
        assert all(key.startswith("data-platform:") for key in document["config"])
