"""The pack as a whole: metadata, config files, real stacks, unknowns, the CLI."""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import pytest

from ops.check import (
    POLICY_PACK_DIR,
    PolicyConfigError,
    check_render,
    load_policy_config,
    resolve_config,
)
from ops.cli import main
from tests.conftest import STACKS, cached_render, render_json
from tests.policies.conftest import baseline, config_path, find, render_of

KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_policy_metadata(analyzer) -> None:
    info = analyzer.info()
    assert info.name == "data-platform-governance"
    assert len(info.policies) >= 30
    for policy in info.policies:
        assert KEBAB.match(policy.name), policy.name
        assert len(policy.description) > 30, policy.name
        assert policy.remediation_steps, policy.name
        assert policy.severity != 0, f"{policy.name} has no severity"
        assert policy.enforcementLevel == 1, f"{policy.name} is not mandatory by default"
        assert policy.policy_type in (1, 2)


def test_rules_import_none_of_our_code() -> None:
    for path in POLICY_PACK_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not [
                n for n in names if n.split(".")[0] in ("infra", "ops", "components", "tests")
            ], path


@pytest.mark.parametrize("stack", STACKS)
def test_stack_config_is_valid(analyzer, stack: str) -> None:
    resolved = resolve_config(analyzer.info(), load_policy_config(config_path(stack)))
    levels = {level for level, _ in resolved.values()}
    assert levels <= ({"advisory", "disabled"} if stack == "dev" else {"mandatory"})


def test_config_errors_are_clear(analyzer) -> None:
    info = analyzer.info()
    with pytest.raises(PolicyConfigError, match="unknown policies no-such-rule"):
        resolve_config(info, {"no-such-rule": "mandatory"})
    with pytest.raises(PolicyConfigError, match="image-digest-required has no properties nope"):
        resolve_config(info, {"image-digest-required": {"nope": 1}})
    with pytest.raises(PolicyConfigError, match="unknown enforcement level 'strict'"):
        resolve_config(info, {"all": "strict"})


@pytest.mark.parametrize("stack", STACKS)
def test_real_stack_passes_every_mandatory_rule(analyzer, stack: str) -> None:
    result = check_render(render_json(cached_render(stack)), analyzer=analyzer)
    assert result.passed, result.format()
    assert result.policy_config and result.policy_config.endswith(f"{stack}.json")


def test_real_prod_render_is_really_read(analyzer) -> None:
    """Breaking the real postgresql.conf and rules.json of prod trips the rules."""
    render = copy.deepcopy(render_json(cached_render("prod")))
    touched = set()
    for resource in render["resources"]:
        for key, value in (resource["inputs"].get("data") or {}).items():
            if key.endswith("postgresql.conf"):
                resource["inputs"]["data"][key] = value.replace("'pgaudit'", "''")
                touched.add("conf")
            if key.endswith("rules.json"):
                rules = json.loads(value)
                rules["catalogs"].pop()
                resource["inputs"]["data"][key] = json.dumps(rules)
                touched.add("rules")
    assert touched == {"conf", "rules"}, "prod no longer ships postgresql.conf and rules.json"
    fired = {v.policy for v in check_render(render, analyzer=analyzer).violations}
    assert {"postgres-pgaudit-preloaded", "trino-rules-explicit-deny"} <= fired


def _unknowns(stack: list[dict]) -> list[dict]:
    find(stack, "web")["inputs"]["spec"]["template"]["spec"]["containers"][0].update(
        image="[unknown]",
        securityContext="[unknown]",
        env=[{"name": "DB_PASSWORD", "value": "[unknown]"}],
    )
    find(stack, "db")["inputs"]["spec"] = "[unknown]"
    find(stack, "ns")["inputs"]["metadata"]["labels"] = "[unknown]"
    find(stack, "dp-prod-data")["inputs"]["bucket"] = "[unknown]"
    find(stack, "files")["inputs"]["data"]["etc-postgresql-postgresql.conf"] = "[unknown]"
    find(stack, "box")["inputs"].update(
        ports=[{"internal": 1, "ip": "[unknown]"}], envs="[unknown]", user="[unknown]"
    )
    find(stack, "claim")["inputs"]["spec"]["resources"]["requests"]["storage"] = "[unknown]"
    find(stack, "web-svc")["inputs"]["spec"]["type"] = "[unknown]"
    find(stack, "dp-prod-audit-ilm")["inputs"]["rules"] = "[unknown]"
    find(stack, "web")["inputs"]["spec"]["replicas"] = "[unknown]"
    return stack


def test_unknown_values_do_not_crash_rules(evaluate) -> None:
    result = evaluate(_unknowns(copy.deepcopy(baseline())))
    # Unknown values cannot be judged: nothing fires, and no rule fails "during preview".
    assert result.violations == [], result.format()


def test_secret_values_pass(evaluate) -> None:
    """A Pulumi secret is no plain-text credential; in env it is still a secret in env."""
    stack = copy.deepcopy(baseline())
    find(stack, "files")["inputs"]["data"]["etc-app.properties"] = "[secret]"
    assert evaluate(stack).violations == []
    find(stack, "box")["inputs"]["envs"].append("[secret]")
    assert {v.policy for v in evaluate(stack).violations} == {"secrets-as-files-not-env"}


def _broken(tmp_path: Path) -> Path:
    stack = copy.deepcopy(baseline())
    find(stack, "web")["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "trinodb/trino:latest"
    )
    find(stack, "dp-prod-data")["inputs"]["acl"] = "public-read-write"
    find(stack, "db")["options"]["protect"] = False
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(render_of(stack)))
    return path


def test_cli_broken_render_fails_with_clear_messages(tmp_path: Path, capsys) -> None:
    assert main(["check", "--resources", str(_broken(tmp_path))]) == 1
    out = capsys.readouterr().out
    assert "[mandatory] image-tag-pinned (high)" in out
    assert "urn:pulumi:prod::data-platform::kubernetes:apps/v1:Deployment::web" in out
    assert "the latest tag is never pinned" in out
    assert "bucket ACL is 'public-read-write'" in out
    assert "stateful StatefulSet 'db' is not protected" in out
    assert out.strip().splitlines()[-1] == "FAILED: 3 violations (3 mandatory, 0 advisory)"


def test_cli_json_and_policy_config_override(tmp_path: Path, capsys) -> None:
    broken = _broken(tmp_path)
    assert (
        main(
            [
                "check",
                "--resources",
                str(broken),
                "--json",
                "--policy-config",
                str(config_path("dev")),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["mandatoryViolations"] == 0
    assert report["summary"]["advisoryViolations"] == 2  # protect is not required in dev
    assert {v["enforcement"] for v in report["violations"]} == {"advisory"}
    assert report["violations"][0].keys() >= {"policy", "urn", "message", "enforcement", "severity"}


def test_cli_uses_enforcement_of_the_render_stack(tmp_path: Path, capsys) -> None:
    stack = copy.deepcopy(baseline())
    find(stack, "web")["inputs"]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "trinodb/trino"
    )
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(render_of(stack, "dev")))
    assert main(["check", "--resources", str(path)]) == 0
    assert "[advisory] image-tag-pinned" in capsys.readouterr().out


def test_cli_check_prod_exits_zero(capsys) -> None:
    assert main(["check", "prod"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("PASSED: ") and "(0 mandatory," in last


def test_docs_list_every_policy(analyzer) -> None:
    """docs/policies.md has a row for every rule the pack enforces."""
    doc = (POLICY_PACK_DIR.parent / "docs" / "policies.md").read_text()
    missing = [p.name for p in analyzer.info().policies if f"| `{p.name}` |" not in doc]
    assert missing == []
