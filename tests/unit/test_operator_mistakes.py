"""What a newcomer gets wrong gets one plain line and exit status 2, never a traceback.

Each command runs as a real subprocess (`python -m ops.cli`, what the `dataplatform`
console script runs), so what is asserted is what a terminal shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import cached_render

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def _assert_one_line_error(done: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, nothing on stdout, one stderr line containing each of `expected`."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    assert done.stdout == ""
    return lines[0]


@pytest.fixture
def render_file(tmp_path: Path) -> Path:
    """The saved render of the test stack."""
    path = tmp_path / "test.json"
    path.write_text(cached_render("test").to_json())
    return path


def test_invalid_yaml_in_a_stack_file(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.dev.yaml"
    broken.write_text(
        Path(REPO / "Pulumi.dev.yaml").read_text().replace("    tier: dev", "    tier: dev: x")
    )
    for command in ("render", "check", "preflight"):
        done = _run(command, "dev", "--config", str(broken))
        _assert_one_line_error(
            done, str(broken), "not valid YAML at line 5", "mapping values are not allowed"
        )


def test_a_stack_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.dev.yaml"
    broken.write_text("- config\n- data-platform:platform\n")
    _assert_one_line_error(
        _run("render", "dev", "--config", str(broken)), str(broken), "'config:'", "got a list"
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"stack": "test", ', "not valid JSON at line 1, column 19"),
        ("[]", "(a JSON object), got a list"),
        ('{"resources": []}', "not a render: stack: required key is missing"),
        (
            '{"stack": "test", "project": "data-platform", "resources": [{"urn": "u"}]}',
            "not a render: resources[0].type: required key is missing",
        ),
        (
            '{"stack": "test", "project": "data-platform", "resources": {}}',
            "not a render: resources: Input should be a valid list",
        ),
    ],
    ids=["invalid-json", "empty-list", "object-without-stack", "resource-shape", "resources-map"],
)
def test_check_and_diff_refuse_a_file_that_is_not_a_render(
    tmp_path: Path, render_file: Path, content: str, expected: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    _assert_one_line_error(_run("check", "--resources", str(bad)), str(bad), expected)
    _assert_one_line_error(_run("diff", str(bad), str(render_file)), str(bad), expected)
    _assert_one_line_error(_run("diff", str(render_file), str(bad)), str(bad), expected)


def test_missing_files_and_unknown_stacks(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    _assert_one_line_error(_run("check", "--resources", str(missing)), str(missing), "no such file")
    _assert_one_line_error(_run("diff", str(missing), "dev"), str(missing), "no such file")
    _assert_one_line_error(_run("render", "staging"), "no stack config", "Pulumi.staging.yaml")
    _assert_one_line_error(_run("diff", "dev", "staging"), "Pulumi.staging.yaml")
    _assert_one_line_error(_run("check", "staging"), "Pulumi.staging.yaml")
    _assert_one_line_error(_run("preflight", "staging"), "Pulumi.staging.yaml")
    _assert_one_line_error(_run("render", "../dev"), "'../dev' is not a stack name")
    _assert_one_line_error(
        _run("check", "dev", "--policy-config", str(missing)), str(missing), "no such file"
    )
    _assert_one_line_error(
        _run("check", "--resources", str(tmp_path)), str(tmp_path), "is a directory"
    )


def test_manifests_pointing_at_a_file(tmp_path: Path) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me\n")
    done = _run("render", "dev", "--manifests", str(existing))
    _assert_one_line_error(done, f"--manifests {existing}: is a file, expected a directory")
    assert existing.read_text() == "keep me\n"


def test_environment_of_another_stack_names_stack_and_key(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    document["config"]["data-platform:platform"]["environment"] = "prod"
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    done = _run("render", "dev", "--config", str(path))
    assert "Traceback" not in done.stderr and done.returncode == 2
    assert done.stderr.splitlines() == [
        "stack 'dev' has invalid config:",
        "  - data-platform:platform.environment: expected 'dev' for stack 'dev'"
        " (the stack name or its first '-' token), got 'prod'",
    ]


@pytest.mark.parametrize("command", [["check", "dev", "--json"], ["render", "dev", "--json"]])
def test_a_closed_pipe_ends_the_command_with_one_line(command: list[str]) -> None:
    """`dataplatform check dev --json | head -1`: the reader is gone before the output."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head` that has exited: every write now fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", *command],
            cwd=REPO,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert done.stderr.count("\n") == 1 and "broken pipe" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.returncode == 2


def _no_aws_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return env | {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }


def test_verify_storage_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    done = _run("verify-storage", "dev", env=_no_aws_env(tmp_path))
    line = _assert_one_line_error(done, "no S3 credentials to check stack 'dev'")
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in line and "AWS_PROFILE" in line
    assert "NoCredentialsError" not in line


def test_verify_storage_against_an_endpoint_that_does_not_answer(tmp_path: Path) -> None:
    env = _no_aws_env(tmp_path) | {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    done = _run("verify-storage", "dev", "--endpoint", "http://127.0.0.1:9", env=env)
    _assert_one_line_error(done, "cannot check stack 'dev' at http://127.0.0.1:9", "--endpoint")
    done = _run("verify-storage", "dev", "--endpoint", "not a url", env=env)
    _assert_one_line_error(done, "--endpoint not a url", "expected an http(s) URL")


def test_a_saved_render_still_checks_and_diffs(render_file: Path) -> None:
    """The validation accepts what `render --out` writes (the same file, both commands)."""
    done = _run("check", "--resources", str(render_file), "--json")
    assert done.returncode in (0, 1), done.stderr  # the verdict, not a refusal of the file
    assert json.loads(done.stdout)["resources"] == len(cached_render("test").resources)
    done = _run("diff", str(render_file), str(render_file), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["changed"] == {}


def test_a_full_disk_is_one_line_not_a_traceback() -> None:
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", "render", "dev", "--json"],
            cwd=REPO,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=300,
        )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == "dataplatform render: No space left on device\n"


def test_check_of_a_stack_without_its_policy_config_names_the_file(tmp_path: Path) -> None:
    """A DR drill's `prod-dr` must bring its own pack config; check never falls back silently."""
    path = tmp_path / "Pulumi.prod-dr.yaml"
    path.write_text((REPO / "Pulumi.prod.yaml").read_text().replace("dp-prod", "dp-prod-dr"))
    done = _run("check", "prod-dr", "--config", str(path))
    _assert_one_line_error(done, "no policy pack config policies/config/prod-dr.json")


def test_verify_storage_refuses_a_missing_ca_bundle(tmp_path: Path) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    done = _run(
        "verify-storage", "prod", "--endpoint", "https://127.0.0.1:9", "--ca-bundle",
        str(tmp_path / "none.pem"), env=env,
    )  # fmt: skip
    _assert_one_line_error(done, "--ca-bundle", "no such file")
