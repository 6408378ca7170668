"""PostgreSQL rules (policies/rules/postgres.py): every violation path, through the real
Analyzer gRPC, from the compliant baseline; and the real prod render, broken on purpose."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from typing import Any

import pytest

from ops.check import CheckResult
from tests.conftest import cached_render, render_json
from tests.policies.conftest import Resource, baseline, prod_config, resource

Evaluate = Callable[..., CheckResult]
K = "kubernetes:"
HBA = "postgres-hba-strong-auth"
HOSTSSL = "postgres-hba-hostssl-only"
PARAMS = "postgres-log-no-bind-parameters"
STATEMENT = "postgres-log-statement-none"
ROLES = "postgres-roles-least-privilege"
PUBLIC = "postgres-no-public-privileges"
MINE = {HBA, HOSTSSL, PARAMS, STATEMENT, ROLES, PUBLIC}

GOOD_HBA = """\
# TYPE    DATABASE USER ADDRESS   METHOD
local     all      postgres       peer
local     all      all            ident
hostnossl all      all  0.0.0.0/0 reject
hostssl   all      all  0.0.0.0/0 scram-sha-256
hostssl   all      "my user" ::/0 scram-sha-256  # quoted names are one token
include_dir conf.d
"""
GOOD_CONF = """\
log_min_duration_statement = 5000
log_parameter_max_length = 0
pgaudit.log_parameter = off
log_statement = 'none'
"""


def config_map(files: dict[str, str]) -> Resource:
    """A ConfigMap of another team's PostgreSQL, not shaped like ours."""
    return resource(
        f"{K}core/v1:ConfigMap",
        "their-pg",
        {"metadata": {"name": "their-pg", "namespace": "dp-prod"}, "data": files},
    )


def fired(result: CheckResult) -> dict[str, list[str]]:
    """Messages of the PostgreSQL rules that fired, by rule."""
    found: dict[str, list[str]] = {}
    for violation in result.violations:
        if violation.policy in MINE:
            found.setdefault(violation.policy, []).append(violation.message)
    return found


def run(evaluate: Evaluate, *extra: Resource, **config: dict[str, Any]) -> dict[str, list[str]]:
    """Baseline plus `extra`, prod policy config with overrides."""
    return fired(evaluate([*baseline(), *extra], document=prod_config(**config)))


def test_baseline_and_good_files_pass(evaluate: Evaluate) -> None:
    assert run(evaluate, config_map({"pg_hba.conf": GOOD_HBA, "postgresql.conf": GOOD_CONF})) == {}


# --- pg_hba.conf ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("local all all trust", "admits anyone without a password"),
        ("hostssl all all 10.0.0.0/8 password", "sends the password in clear text"),
        ("hostssl all all 10.0.0.0/8 md5", "uses md5 hashes"),
        ("hostssl all all 10.0.0.0/8 ident", "trusts the client host's ident answer"),
        (
            "hostssl all all 0.0.0.0 0.0.0.0 md5",
            "uses md5 hashes (scram-sha-256 expected) from any",
        ),
        ("hostssl all all all trust", "without a password from any address"),
        ("HOSTSSL all all ::/0 Password", "clear text from any address"),
    ],
)
def test_weak_hba_methods(evaluate: Evaluate, line: str, fragment: str) -> None:
    found = run(evaluate, config_map({"pg_hba.conf": GOOD_HBA + line + "\n"}))
    assert set(found) == {HBA}
    [message] = found[HBA]
    assert message.startswith(f"pg_hba.conf: '{line}'") and fragment in message


def test_md5_passes_where_scram_is_not_required(evaluate: Evaluate) -> None:
    hba = GOOD_HBA + "hostssl all all 10.0.0.0/8 md5\n"
    assert run(evaluate, config_map({"pg_hba.conf": hba}), **{HBA: {"requireScram": False}}) == {}


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("host all all 10.0.0.0/8 scram-sha-256", "admits connections without TLS"),
        ("hostnogssenc all all 10.0.0.0/8 scram-sha-256", "admits connections without TLS"),
        ("hostnossl all all 10.0.0.0/8 scram-sha-256", "admits only connections without TLS"),
    ],
)
def test_tcp_records_without_tls(evaluate: Evaluate, line: str, fragment: str) -> None:
    files = config_map({"etc-pg-pg_hba.conf": GOOD_HBA + line + "\n"})
    found = run(evaluate, files)
    assert set(found) == {HOSTSSL} and fragment in found[HOSTSSL][0]
    assert run(evaluate, files, **{HOSTSSL: {"requireTls": False}}) == {}


def _secret(key: str, content: str, *, encoded: bool) -> Resource:
    data = (
        {"data": {key: base64.b64encode(content.encode()).decode()}}
        if encoded
        else {"stringData": {key: content}}
    )
    return resource(f"{K}core/v1:Secret", "pg-secret", {"metadata": {"name": "s"}, **data})


@pytest.mark.parametrize(
    "carrier",
    ["secret-stringData", "secret-data", "docker-upload", "cnpg-cluster", "configmap-binary"],
)
def test_hba_is_read_wherever_it_is_delivered(evaluate: Evaluate, carrier: str) -> None:
    line = "host all all 0.0.0.0/0 trust"
    content = GOOD_HBA + line + "\n"
    if carrier.startswith("secret"):
        extra = _secret("pg_hba.conf", content, encoded=carrier == "secret-data")
    elif carrier == "docker-upload":
        extra = resource(
            "docker:index/container:Container",
            "their-box",
            {"name": "b", "uploads": [{"file": "/etc/postgresql/pg_hba.conf", "content": content}]},
        )
    elif carrier == "configmap-binary":
        encoded = base64.b64encode(content.encode()).decode()
        extra = resource(f"{K}core/v1:ConfigMap", "bin", {"binaryData": {"pg_hba.conf": encoded}})
    else:
        extra = resource(
            f"{K}postgresql.cnpg.io/v1:Cluster",
            "cnpg",
            {"spec": {"instances": 3, "postgresql": {"pg_hba": [line]}}},
        )
    found = run(evaluate, extra)
    assert set(found) == {HBA, HOSTSSL}
    assert "from any address" in found[HBA][0] and line in found[HOSTSSL][0]


def test_secret_and_unknown_contents_are_not_judged(evaluate: Evaluate) -> None:
    hidden = resource(f"{K}core/v1:Secret", "hidden", {"stringData": {"pg_hba.conf": "[secret]"}})
    unknown = config_map({"pg_hba.conf": "[unknown]", "postgresql.conf": "[unknown]"})
    assert run(evaluate, hidden, unknown) == {}


# --- postgresql.conf: the server log ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ("log_parameter_max_length = 0", None),
        ("log_parameter_max_length = 64", "log_min_duration_statement = 5000 with log_param"),
        ("log_parameter_max_length = '0kB'", None),
        ("pgaudit.log_parameter = on\nlog_parameter_max_length = -1", None),
        ("# no log_parameter_max_length", "log_parameter_max_length = -1 (default)"),
    ],
)
def test_slow_statement_parameters(evaluate: Evaluate, change: str, fragment: str | None) -> None:
    conf = "log_min_duration_statement = 5000\npgaudit.log_parameter = off\n" + change + "\n"
    found = run(evaluate, config_map({"postgresql.conf": conf}))
    if fragment is None:
        assert found == {}
    else:
        assert set(found) == {PARAMS} and fragment in found[PARAMS][0]


@pytest.mark.parametrize(
    "logger",
    [
        "log_min_duration_sample = 100",
        "log_transaction_sample_rate = 0.01",
        "log_min_duration_statement = '2s'",
    ],
)
def test_other_statement_loggers_count(evaluate: Evaluate, logger: str) -> None:
    found = run(evaluate, config_map({"postgresql.conf": logger + "\n"}))
    assert set(found) == {PARAMS} and logger.split(" =")[0] in found[PARAMS][0]


def test_parameters_of_failed_statements(evaluate: Evaluate) -> None:
    conf = "log_parameter_max_length_on_error = 1024\n"
    found = run(evaluate, config_map({"postgresql.conf": conf}))
    assert set(found) == {PARAMS} and "of failed statements" in found[PARAMS][0]
    conf = "pgaudit.log_parameter = on\n" + conf
    assert run(evaluate, config_map({"postgresql.conf": conf})) == {}


def test_cnpg_cluster_parameters(evaluate: Evaluate) -> None:
    cluster = resource(
        f"{K}postgresql.cnpg.io/v1:Cluster",
        "cnpg",
        {"spec": {"postgresql": {"parameters": {"log_min_duration_statement": "1000"}}}},
    )
    found = run(evaluate, cluster)
    assert set(found) == {PARAMS} and found[PARAMS][0].startswith("spec.postgresql.parameters:")


@pytest.mark.parametrize("value", ["ddl", "mod", "all", "'ALL'"])
def test_log_statement_writes_passwords(evaluate: Evaluate, value: str) -> None:
    conf = f"log_statement = {value}\nlog_parameter_max_length = 0\n"
    found = run(evaluate, config_map({"postgresql.conf": conf}))
    assert set(found) == {STATEMENT} and "role passwords" in found[STATEMENT][0]


# --- pulumi-postgresql roles and grants ---------------------------------------------------


def role(name: str, **attributes: Any) -> Resource:
    """A pulumi-postgresql Role (provider defaults: NOLOGIN, no attributes)."""
    return resource("postgresql:index/role:Role", f"role-{name}", {"name": name, **attributes})


@pytest.mark.parametrize(
    ("attributes", "fragment"),
    [
        ({"superuser": True}, "SUPERUSER"),
        ({"login": True, "superuser": True}, "SUPERUSER"),
        ({"login": True, "createRole": True}, "CREATEROLE"),
        ({"login": True, "createDatabase": True}, "CREATEDB"),
        ({"login": True, "replication": True}, "REPLICATION"),
        ({"login": True, "bypassRowLevelSecurity": True}, "BYPASSRLS"),
        ({"login": "true", "createRole": "true"}, "CREATEROLE"),
    ],
)
def test_privileged_roles(evaluate: Evaluate, attributes: dict[str, Any], fragment: str) -> None:
    found = run(evaluate, role("etl", **attributes))
    assert set(found) == {ROLES}
    assert found[ROLES] == [f"role 'etl' is declared with {fragment}."]


def test_unprivileged_and_excepted_roles_pass(evaluate: Evaluate) -> None:
    group = role("platform_admin", login=False, createRole=True, createDatabase=True)
    login = role("app", login=True, superuser=False, createRole=False, password="[secret]")
    assert run(evaluate, group, login) == {}
    reviewed = role("migrator", login=True, createDatabase=True)
    assert run(evaluate, reviewed, **{ROLES: {"allowedPrivilegedRoles": ["migrator"]}}) == {}


def test_the_providers_own_admin_is_excepted(evaluate: Evaluate) -> None:
    provider = resource(
        "pulumi:providers:postgresql", "pg", {"username": "dba", "password": "[secret]"}
    )
    provider["custom"] = True
    admin = role("dba", login=True, superuser=True)
    other = role("etl", login=True, superuser=True)
    for declared in (admin, other):
        declared["provider"] = provider["urn"]
    found = run(evaluate, provider, admin, other)
    assert found == {ROLES: ["role 'etl' is declared with SUPERUSER."]}


@pytest.mark.parametrize(
    ("type_token", "inputs", "fragment"),
    [
        (
            "postgresql:index/grant:Grant",
            {"role": "public", "database": "app", "objectType": "database", "privileges": ["CONNECT", "TEMPORARY"]},
            "privileges CONNECT, TEMPORARY on database app granted to PUBLIC",
        ),
        (
            "postgresql:index/grant:Grant",
            {"role": "PUBLIC", "database": "app", "schema": "public", "objectType": "schema", "privileges": ["USAGE"]},
            "USAGE on schema app public granted to PUBLIC",
        ),
        (
            "postgresql:index/defaultPrivileges:DefaultPrivileges",
            {"role": "public", "owner": "app", "database": "app", "schema": "s", "objectType": "table", "privileges": ["SELECT"]},
            "default privileges SELECT on table app s granted to PUBLIC",
        ),
    ],
)  # fmt: skip
def test_grants_to_public(
    evaluate: Evaluate, type_token: str, inputs: dict[str, Any], fragment: str
) -> None:
    found = run(evaluate, resource(type_token, "to-public", inputs))
    assert set(found) == {PUBLIC} and fragment in found[PUBLIC][0]


def test_revoking_from_public_passes(evaluate: Evaluate) -> None:
    revoke = resource(
        "postgresql:index/grant:Grant",
        "revoke",
        {"role": "public", "database": "app", "objectType": "database", "privileges": []},
    )
    assert run(evaluate, revoke) == {}


# --- the real prod render ---------------------------------------------------------------


def test_real_prod_render_is_read(evaluate: Evaluate) -> None:
    """Weakening prod's own pg_hba.conf, postgresql.conf and roles trips each rule."""
    render = copy.deepcopy(render_json(cached_render("prod")))
    resources: list[Resource] = render["resources"]
    touched = set()
    for item in resources:
        data = item["inputs"].get("data") or {}
        for key, value in data.items():
            if key.endswith("pg_hba.conf"):
                data[key] = value.replace("hostssl", "host     ").replace("scram-sha-256", "md5")
                touched.add("hba")
            if key.endswith("postgresql.conf"):
                data[key] = value.replace("log_parameter_max_length = 0\n", "")
                data[key] += "log_statement = 'ddl'\n"
                touched.add("conf")
        if item["type"] == "postgresql:index/role:Role" and item["inputs"]["name"] == "trino":
            item["inputs"]["createRole"] = True
            touched.add("role")
        if item["type"] == "postgresql:index/grant:Grant" and item["inputs"]["role"] == "public":
            item["inputs"]["privileges"] = ["USAGE"]
            touched.add("grant")
    assert touched == {"hba", "conf", "role", "grant"}
    assert set(fired(evaluate(resources))) == MINE
