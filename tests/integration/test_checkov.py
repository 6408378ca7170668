"""An independent scanner (checkov) finds nothing in the test and prod manifests that is
not accepted in writing (docs/checkov-accepted.md), and never accepts secrets in env."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "checkov.sh"
ACCEPTED = ROOT / "docs" / "checkov-accepted.md"
VENV = Path(os.environ.get("CHECKOV_VENV", Path.home() / ".cache/dataplatform/checkov-venv"))


def _findings() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "checkov_findings", ROOT / "scripts/checkov_findings.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def checkov_run() -> subprocess.CompletedProcess[str]:
    """One run of scripts/checkov.sh (installs checkov into its own virtualenv if missing)."""
    result = subprocess.run(
        ["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    if result.returncode != 0 and not (VENV / "bin" / "checkov").exists():
        reason = f"checkov could not be installed: {result.stderr[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(f"CI must install checkov: {reason}")
        pytest.skip(reason)
    return result


@pytest.mark.integration
def test_checkov_finds_nothing_unaccepted_in_test_and_prod(
    checkov_run: subprocess.CompletedProcess[str],
) -> None:
    assert checkov_run.returncode == 0, checkov_run.stdout + checkov_run.stderr
    assert checkov_run.stdout.count("no finding outside docs/checkov-accepted.md") == 2


SECRET_ENV_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: dp-prod}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      containers:
        - name: app
          image: docker.io/library/busybox:1.37.0
          env:
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: db, key: password}}
"""


@pytest.mark.integration
def test_a_secret_in_env_is_a_finding_nobody_accepted(
    checkov_run: subprocess.CompletedProcess[str], tmp_path: Path
) -> None:
    """The judge fails a real checkov report of CKV_K8S_35, which may never be accepted."""
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "dp-prod--deployment--app.yaml").write_text(SECRET_ENV_DEPLOYMENT)
    report = subprocess.run(
        [
            str(VENV / "bin/checkov"),
            "-d",
            str(tmp_path / "manifests"),
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
            "--check",
            "CKV_K8S_35",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"BC_SKIP_MAPPING": "TRUE"},
        timeout=600,
    )
    (tmp_path / "report.json").write_text(report.stdout)
    judged = subprocess.run(
        [
            "python3",
            str(ROOT / "scripts/checkov_findings.py"),
            "judge",
            str(ACCEPTED),
            str(tmp_path / "report.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert judged.returncode == 1, judged.stdout + judged.stderr
    assert "NOT ACCEPTED: CKV_K8S_35 Deployment.dp-prod.app" in judged.stdout


def test_accepted_table_scopes_each_check_to_its_files() -> None:
    findings = _findings()
    accepted = findings.read_accepted(ACCEPTED)
    assert all(a.reason for a in accepted)
    report = {
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_K8S_40",
                    "resource": "StatefulSet.dp-prod.postgres-server",
                    "file_path": "/dp-prod--statefulset--postgres-server.yaml",
                    "check_name": "uid",
                },
                {
                    "check_id": "CKV_K8S_40",
                    "resource": "Deployment.dp-prod.newcomer",
                    "file_path": "/dp-prod--deployment--newcomer.yaml",
                    "check_name": "uid",
                },
            ]
        }
    }
    remaining = findings.unaccepted(report, accepted)
    assert remaining == [
        "CKV_K8S_40 Deployment.dp-prod.newcomer (/dp-prod--deployment--newcomer.yaml): uid"
    ]
    assert "CKV_K8S_35" not in findings.skip_list(accepted)


def test_an_acceptance_without_reason_or_of_secret_env_is_refused(tmp_path: Path) -> None:
    findings = _findings()
    table = tmp_path / "accepted.md"
    table.write_text("| check | where | reason |\n|---|---|---|\n| CKV_K8S_8 | * |  |\n")
    with pytest.raises(ValueError, match="without a reason"):
        findings.read_accepted(table)
    table.write_text("| CKV_K8S_35 | * | convenient |\n")
    with pytest.raises(ValueError, match="must never be accepted"):
        findings.read_accepted(table)
