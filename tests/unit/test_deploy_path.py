"""The policy pack is on the deploy path, with each stack's own policy config.

Every `pulumi up` / `pulumi preview` that the Makefile, the docs or CI scripts run must
pass `--policy-pack policies --policy-pack-config policies/config/<stack>.json`, the
file `dataplatform check <stack>` uses, so a deploy is judged as the offline check was.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from ops.check import POLICY_CONFIG_DIR, policy_config_file

REPO = Path(__file__).resolve().parents[2]
PULUMI_DEPLOY = re.compile(r"\bpulumi\s+(up|preview)\b")
STACKS = ("dev", "test", "prod", "prod-dr")
PACK = "policies"


def _flag_values(words: list[str], flag: str) -> list[str]:
    values = []
    for index, word in enumerate(words):
        if word == flag and index + 1 < len(words):
            values.append(words[index + 1])
        elif word.startswith(f"{flag}="):
            values.append(word.split("=", 1)[1])
    return values


def pack_problems(command: str, stack: str | None = None) -> list[str]:
    """Why a `pulumi up|preview` command line does not run the pack with its stack's config."""
    words = shlex.split(command, comments=True)
    stack = stack or next(iter(_flag_values(words, "--stack") + _flag_values(words, "-s")), None)
    packs = _flag_values(words, "--policy-pack")
    configs = _flag_values(words, "--policy-pack-config")
    problems = []
    if packs != [PACK]:
        problems.append(f"--policy-pack {PACK} missing (got {packs})")
    wanted = f"{PACK}/config/{stack or '<stack>'}.json"
    if len(configs) != len(packs) or not configs:
        problems.append(f"--policy-pack-config {wanted} missing (got {configs})")
    elif stack is not None and configs[0] != wanted:
        problems.append(f"--policy-pack-config is {configs[0]}, expected {wanted}")
    return problems


def _make_targets() -> list[str]:
    text = (REPO / "Makefile").read_text()
    return sorted(set(re.findall(r"^([a-z][a-z0-9-]*):", text, flags=re.MULTILINE)))


def _make_commands(target: str, stack: str) -> list[str]:
    done = subprocess.run(
        ["make", "-n", "-s", target, f"STACK={stack}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in done.stdout.splitlines() if PULUMI_DEPLOY.search(line)]


@pytest.mark.parametrize("stack", STACKS)
def test_every_make_target_that_deploys_runs_the_pack_with_the_stack_config(stack: str) -> None:
    deploying = {}
    for target in _make_targets():
        for command in _make_commands(target, stack):
            deploying[target] = command
            assert pack_problems(command) == [], (target, command)
            assert f"--stack {stack}" in command, command
    assert {"up", "preview"} <= set(deploying), deploying


def test_make_passes_the_file_dataplatform_check_uses() -> None:
    for stack in ("dev", "test", "prod"):
        [command] = _make_commands("up", stack)
        config = _flag_values(shlex.split(command), "--policy-pack-config")[0]
        assert (REPO / config).resolve() == policy_config_file(stack)


def test_every_stack_file_has_its_policy_config() -> None:
    stacks = [
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in REPO.glob("Pulumi.*.yaml")
    ]
    assert stacks
    for stack in stacks:
        assert (POLICY_CONFIG_DIR / f"{stack}.json").is_file(), stack


def _doc_commands(text: str) -> list[str]:
    """`pulumi up|preview` commands in Markdown: code-block lines, code spans naming a `--stack`.

    A span such as `pulumi preview --policy-pack-config` in prose names a flag, not a deploy.
    """
    commands = []
    in_block = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block and PULUMI_DEPLOY.search(line):
            commands.append(line)
        elif not in_block:
            spans = re.findall(r"`([^`]+)`", line)
            commands += [s for s in spans if PULUMI_DEPLOY.search(s) and "--stack" in s]
    return commands


def _script_commands(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if PULUMI_DEPLOY.search(line) and not line.lstrip().startswith("#")
    ]


def test_docs_and_ci_show_deploys_with_the_pack_and_the_stack_config() -> None:
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    scripts = [
        path
        for folder in (".ci", "scripts", ".github")
        if (REPO / folder).is_dir()
        for path in sorted((REPO / folder).rglob("*"))
        if path.is_file()
    ]
    assert REPO / ".ci" / "run" in scripts
    found: dict[str, list[str]] = {}
    for path in docs:
        for command in _doc_commands(path.read_text()):
            found.setdefault(str(path.relative_to(REPO)), []).append(command)
    for path in scripts:
        for command in _script_commands(path.read_text(errors="replace")):
            found.setdefault(str(path.relative_to(REPO)), []).append(command)
    bad = {
        (where, command): problems
        for where, commands in found.items()
        for command in commands
        if (problems := pack_problems(command.strip().strip("$ ").split("&&")[-1]))
    }
    assert bad == {}
    assert "README.md" in found  # the README shows the real deploy command


@pytest.mark.parametrize(
    ("command", "problem"),
    [
        ("pulumi up --stack prod", "--policy-pack policies missing"),
        ("pulumi preview --stack prod --policy-pack policies", "--policy-pack-config"),
        (
            "pulumi up --stack prod --policy-pack policies --policy-pack-config policies/config/dev.json",
            "expected policies/config/prod.json",
        ),
    ],
)
def test_the_scan_catches_a_deploy_without_the_stack_config(command: str, problem: str) -> None:
    """The old `make up` / `make preview` lines fail the same scan."""
    assert any(problem in p for p in pack_problems(command))
