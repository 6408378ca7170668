"""Violation paths of the Trino rules of the pack (policies/rules/access.py): writers with
masks, catalogs handed to everyone, coordinators without authentication or with passwords
over HTTP, read from any ConfigMap, Secret (data or stringData) or Docker upload."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.policies.conftest import Resource, baseline, find, prod_config, resource
from tests.policies.test_violation_paths import Case, box, edit_rules, files

SECURE_COORDINATOR = (
    "coordinator=true\nhttp-server.http.port=8080\nhttp-server.https.enabled=true\n"
    "http-server.https.port=8443\nhttp-server.authentication.type=PASSWORD\n"
)


def add_file(name: str, content: str) -> Callable[[list[Resource]], None]:
    """Deliver one more file through the baseline ConfigMap."""
    return lambda stack: files(stack).update({name: content})


def secret_with(key: str, content: str, *, encoded: bool) -> Callable[[list[Resource]], None]:
    """A Kubernetes Secret of anyone's making that carries a Trino file."""

    def mutate(stack: list[Resource]) -> None:
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "someone-elses-trino", "namespace": "dp-prod"},
        }
        if encoded:
            body["data"] = {key: base64.b64encode(content.encode()).decode()}
        else:
            body["stringData"] = {key: content}
        stack.append(resource("kubernetes:core/v1:Secret", "someone-elses-trino", body))

    return mutate


def docker_upload(path: str, content: str) -> Callable[[list[Resource]], None]:
    """A Docker container that uploads a Trino file."""

    def mutate(stack: list[Resource]) -> None:
        inputs = box(stack)
        inputs["uploads"] = [*inputs.get("uploads", []), {"file": path, "content": content}]

    return mutate


def _everyone_rules(change: Callable[[dict[str, Any]], None]) -> str:
    from tests.policies.conftest import RULES

    rules = copy.deepcopy(RULES)
    change(rules)
    return json.dumps(rules)


CASES = [
    Case(
        "writer-with-masks",
        "trino-writers-unmasked",
        edit_rules(
            lambda r: r["tables"].insert(
                0,
                {
                    "group": "pipelines",
                    "catalog": "lake",
                    "privileges": ["SELECT", "INSERT", "DELETE"],
                    "columns": [{"name": "email", "mask": "'***'"}],
                },
            )
        ),
        "grants ['DELETE', 'INSERT'] and masks email",
    ),
    Case(
        "update-under-row-filter",
        "trino-writers-unmasked",
        edit_rules(
            lambda r: r["tables"].insert(
                0,
                {
                    "group": "pipelines",
                    "catalog": "lake",
                    "privileges": ["SELECT", "UPDATE"],
                    "filter": "region = 'EMEA'",
                },
            )
        ),
        "grants UPDATE under a row filter",
    ),
    Case(
        "catalog-to-everyone",
        "trino-catalog-not-for-everyone",
        edit_rules(lambda r: r["catalogs"].insert(0, {"catalog": ".*", "allow": "all"})),
        "gives catalog '.*' (all) to every user",
    ),
    Case(
        "catalog-to-group-match-all",
        "trino-catalog-not-for-everyone",
        edit_rules(
            lambda r: r["catalogs"].insert(
                0, {"group": ".*", "catalog": "lake", "allow": "read-only"}
            )
        ),
        "gives catalog 'lake' (read-only) to every user",
    ),
    Case(
        "whole-catalog-table-rule-to-everyone",
        "trino-catalog-not-for-everyone",
        edit_rules(lambda r: r["tables"].insert(0, {"catalog": "lake", "privileges": ["SELECT"]})),
        "on every table of catalog 'lake' to every user",
        also=frozenset({"trino-pii-columns-masked"}),
    ),
    Case(
        "catalog-to-everyone-in-a-secret",
        "trino-catalog-not-for-everyone",
        secret_with(
            "rules.json",
            _everyone_rules(lambda r: r["catalogs"].insert(0, {"catalog": "lake", "allow": "all"})),
            encoded=False,
        ),
        "gives catalog 'lake' (all) to every user",
    ),
    Case(
        "coordinator-without-authentication",
        "trino-coordinator-authentication",
        add_file("etc-trino-config.properties", "coordinator=true\nhttp-server.http.port=8080\n"),
        "without http-server.authentication.type",
    ),
    Case(
        "password-over-http",
        "trino-coordinator-authentication",
        add_file(
            "etc-trino-config.properties",
            "coordinator=true\nhttp-server.authentication.type=PASSWORD\n",
        ),
        "passwords would cross the network in clear text",
    ),
    Case(
        "password-allowed-over-http",
        "trino-coordinator-authentication",
        add_file(
            "etc-trino-config.properties",
            SECURE_COORDINATOR + "http-server.authentication.allow-insecure-over-http=true\n",
        ),
        "passwords would cross the network in clear text",
    ),
    Case(
        "coordinator-in-a-base64-secret",
        "trino-coordinator-authentication",
        secret_with("config.properties", "coordinator=true\n", encoded=True),
        "without http-server.authentication.type",
    ),
    Case(
        "coordinator-uploaded-to-docker",
        "trino-coordinator-authentication",
        docker_upload("/etc/trino/config.properties", "coordinator=true\n"),
        "without http-server.authentication.type",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_trino_violation_path(evaluate, case: Case) -> None:
    stack = copy.deepcopy(baseline())
    case.mutate(stack)
    result = evaluate(stack, document=prod_config(**case.config))
    fired = {v.policy for v in result.violations}
    assert case.policy in fired, result.format()
    assert fired - {case.policy} <= case.also, f"overlapping policies: {result.format()}"
    messages = [v.message for v in result.violations if v.policy == case.policy]
    assert any(case.fragment in m for m in messages), messages


@pytest.mark.parametrize(
    "mutate",
    [
        add_file("etc-trino-config.properties", SECURE_COORDINATOR),
        add_file("etc-trino-config.properties", "coordinator=false\nhttp-server.http.port=8080\n"),
        edit_rules(
            lambda r: r["tables"].insert(
                0, {"group": "pipelines", "catalog": "lake", "privileges": ["SELECT", "INSERT"]}
            )
        ),
        edit_rules(
            lambda r: r["catalogs"].insert(
                0, {"group": "analysts", "catalog": "system", "allow": "read-only"}
            )
        ),
    ],
    ids=["secure-coordinator", "worker", "unmasked-writer", "named-system-reader"],
)
def test_compliant_trino_shapes_pass(evaluate, mutate: Callable[[list[Resource]], None]) -> None:
    stack = copy.deepcopy(baseline())
    mutate(stack)
    result = evaluate(stack)
    trino = [v for v in result.violations if v.policy.startswith("trino-")]
    assert trino == [], result.format()


def test_writers_rule_is_not_a_pii_exposure(evaluate) -> None:
    """A writer's unmasked rule is judged by trino-writers-unmasked, not as a PII leak:
    Trino refuses writes under a mask, so writers see the table in clear."""
    stack = copy.deepcopy(baseline())
    edit_rules(
        lambda r: r["tables"].insert(
            0, {"group": "pipelines", "catalog": "lake", "privileges": ["SELECT", "UPDATE"]}
        )
    )(stack)
    assert find(stack, "files")
    result = evaluate(stack)
    assert [v for v in result.violations if v.policy == "trino-pii-columns-masked"] == []
