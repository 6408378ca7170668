"""The typed Trino access policy: it refuses bad config with clear messages, and the rules
it generates give every group exactly what the stack config says (checked with the
test-only evaluator of Trino's first-match semantics)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from components.runtime.stack import Tier
from components.trino import TrinoSettings
from components.trino.access import (
    CLEAR_PII_ROLES,
    AccessPolicy,
    Role,
    render_group_file,
    render_rules_json,
    rules_document,
)
from infra.config import ConfigError, parse_config, with_tier_defaults
from tests.conftest import STACKS
from tests.support.trino_evaluator import Identity, Rules
from tests.unit.test_config import raw_config

Raw = dict[str, Any]


def stack_raw(stack: str) -> Raw:
    """The stack's config sections, each merged over its tier defaults (as validated)."""
    return with_tier_defaults(raw_config(stack))


def access_raw(stack: str) -> Raw:
    """The stack's `trino.access` section: its stack file over the shared governance."""
    return copy.deepcopy(stack_raw(stack)["trino"]["access"])


def policy(stack: str) -> AccessPolicy:
    """The stack's access policy as the program sees it."""
    return TrinoSettings.model_validate(stack_raw(stack)["trino"]).access


def rules(stack: str) -> Rules:
    """The generated rules.json of a stack, ready for the evaluator."""
    return Rules(json.loads(render_rules_json(policy(stack))))


def identities(access: AccessPolicy) -> list[tuple[Identity, Role, str]]:
    """Every configured user as Trino sees it (user + groups from the group file)."""
    return [
        (Identity(user=user, groups=frozenset({group.name})), group.role, group.name)
        for group in access.groups
        for user in group.members
    ]


def _invalid(raw: Raw, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        AccessPolicy.model_validate(raw)


# --- validation: bad config is refused with a clear message -------------------------


def test_pii_column_without_mask_is_refused() -> None:
    raw = access_raw("prod")
    del raw["classifiedTables"][0]["pii"][0]["mask"]
    _invalid(
        raw,
        r"lake\.gold\.customers: PII column 'email' has no mask for non-privileged groups "
        r"\(would be shown in clear to \['analysts-emea', 'analysts-amer', 'engineers', "
        r"'bi-tools'\]\)",
    )


def test_pii_without_mask_fails_the_whole_stack_config_naming_the_key() -> None:
    raw = stack_raw("test")
    del raw["trino"]["access"]["classifiedTables"][2]["pii"][0]["mask"]
    with pytest.raises(ConfigError) as error:
        parse_config("test", raw)
    message = str(error.value)
    assert "stack 'test' has invalid config" in message
    assert "data-platform:trino.access: " in message
    assert "warehouse.curated.orders: PII column 'customer_email' has no mask" in message


def test_ownership_of_everything_for_non_admins_is_refused_in_prod_only() -> None:
    raw = stack_raw("prod")
    sandbox = raw["trino"]["access"]["tables"][3]
    assert sandbox["groups"] == ["engineers"] and sandbox["schema"] == "sandbox"
    sandbox["schema"] = ".*"
    with pytest.raises(
        ConfigError,
        match=r"access\.tables\[3\] grants OWNERSHIP on catalog "
        r"'lake', schema '\.\*', table '\.\*' to non-admin groups \['engineers'\]: "
        r"in prod only admin groups may own every schema",
    ):
        parse_config("prod", raw)
    # dev allows it: its own stack file grants engineers every lake schema
    assert parse_config("dev", raw_config("dev")).trino.access.tier_problems(Tier.DEV) == []
    assert any("OWNERSHIP" in p for p in policy("dev").tier_problems(Tier.PROD))


def test_schema_ownership_of_everything_for_non_admins_is_refused_in_prod() -> None:
    raw = stack_raw("prod")
    raw["trino"]["access"]["schemas"].append(
        {"groups": ["pipelines"], "catalog": "lake", "schema": ".*", "owner": True}
    )
    with pytest.raises(
        ConfigError,
        match=r"access\.schemas\[3\] grants OWNERSHIP of every "
        r"schema .* to non-admin groups \['pipelines'\]",
    ):
        parse_config("prod", raw)


def test_rule_shadowed_by_an_earlier_broader_rule_is_refused() -> None:
    raw = access_raw("prod")
    raw["tables"].append(
        {
            "groups": ["analysts-emea"],
            "catalog": "lake",
            "schema": "gold",
            "table": "customers",
            "privileges": ["SELECT", "INSERT"],
        }
    )
    last = len(raw["tables"]) - 1
    _invalid(
        raw,
        rf"tables\[{last}\] is shadowed by the broader rule tables\[5\], which matches first",
    )


@pytest.mark.parametrize(
    ("key", "earlier", "later"),
    [
        (
            "catalogs",
            {"groups": ["stewards", "admins"], "catalog": ".*", "allow": "read-only"},
            {"groups": ["stewards"], "catalog": "lake", "allow": "all"},
        ),
        (
            "queries",
            {"groups": ["engineers"], "allow": ["execute"]},
            {"groups": ["engineers"], "allow": ["execute", "kill"]},
        ),
        (
            "systemSessionProperties",
            {"groups": ["engineers"], "allow": False},
            {"groups": ["engineers"], "property": "query_max_run_time", "allow": True},
        ),
    ],
)
def test_shadowing_is_checked_in_every_list(key: str, earlier: Raw, later: Raw) -> None:
    raw = access_raw("prod")
    raw[key] = [earlier, later]
    if key == "catalogs":
        raw["tables"] = []
        raw["classifiedTables"] = []
    _invalid(raw, rf"{key}\[1\] is shadowed by the broader rule {key}\[0\]")


def test_analysts_never_get_the_system_catalog() -> None:
    raw = access_raw("prod")
    raw["catalogs"][2]["catalog"] = "lake|warehouse|system"
    _invalid(raw, r"catalogs\[2\] grants the 'system' catalog to analyst groups")
    raw = access_raw("prod")
    raw["catalogs"].insert(0, {"groups": ["analysts-emea"], "catalog": ".*", "allow": "read-only"})
    _invalid(
        raw, r"catalogs\[0\] grants the 'system' catalog to analyst groups \['analysts-emea'\]"
    )


def test_a_user_belongs_to_exactly_one_group() -> None:
    raw = access_raw("prod")
    raw["groups"][3]["members"].append("amelie")
    _invalid(raw, r"user 'amelie' is in groups 'analysts-emea' and 'stewards'")


def test_unknown_groups_users_and_catalogs_are_refused() -> None:
    raw = access_raw("prod")
    raw["tables"][0]["groups"] = ["admins", "interns"]
    _invalid(raw, r"tables\[0\] names unknown groups \['interns'\]")
    raw = access_raw("prod")
    raw["impersonation"][0]["originalUsers"] = ["svc-nobody"]
    _invalid(raw, r"impersonation\[0\] names unknown users \['svc-nobody'\]")
    raw = access_raw("prod")
    raw["catalogs"][1]["catalog"] = "lake|hive"
    _invalid(raw, r"catalogs\[1\] names unknown catalogs \['hive'\]")


def test_row_filter_for_a_group_without_access_is_refused() -> None:
    raw = access_raw("prod")
    raw["classifiedTables"][0]["rowFilters"].append({"groups": ["nobody-group"], "filter": "true"})
    raw["groups"].append({"name": "nobody-group", "role": "analyst", "members": ["nemo"]})
    _invalid(raw, r"row filter for group 'nobody-group', which has no privileges on the table")


def test_table_grants_the_catalog_rules_make_useless_are_refused() -> None:
    raw = access_raw("prod")
    raw["tables"].insert(
        0, {"groups": ["stewards"], "catalog": "lake", "schema": "gold", "privileges": ["INSERT"]}
    )
    _invalid(
        raw,
        r"tables\[0\] grants \['INSERT'\] to 'stewards' in catalog 'lake', which the "
        r"catalog rules make read-only",
    )
    raw = access_raw("prod")
    raw["catalogs"] = raw["catalogs"][:2]
    _invalid(raw, r"no catalog rule lets 'analysts-emea' into 'lake'")


def test_query_owner_rules_may_not_execute() -> None:
    raw = access_raw("prod")
    raw["queries"][1]["allow"] = ["view", "execute"]
    _invalid(raw, r"queryOwnerGroups may not allow 'execute'")


@pytest.mark.parametrize(
    ("stack", "change", "match"),
    [
        (
            "test",
            {"tls": False, "authentication": "none"},
            r"trino\.tls must be true in a test stack",
        ),
        ("test", {"authentication": "none"}, r"trino\.authentication must be 'password' in a test"),
        ("prod", {"workers": None}, r"trino\.workers\.replicas must be at least 2 in prod"),
        ("dev", {"authentication": "password", "tls": False}, r"needs tls: true"),
        ("dev", {"image": "trinodb/trino:latest"}, r"floating tag 'latest'"),
        (
            "dev",
            {"warehouseBucket": "backups"},
            r"warehouseBucket .backups. needs a read-write entry in lakeGrants",
        ),
    ],
)
def test_stack_level_trino_rules(stack: str, change: Raw, match: str) -> None:
    raw = raw_config(stack)
    raw["trino"] = {**raw["trino"], **change}
    with pytest.raises(ConfigError, match=match):
        parse_config(stack, raw)


# --- generated rules: what every group gets ------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_rules_json_is_deterministic_and_ends_every_list_with_a_deny_all(stack: str) -> None:
    text = render_rules_json(policy(stack))
    assert text == render_rules_json(policy(stack))
    document = json.loads(text)
    expected_lists = {
        "catalogs",
        "schemas",
        "tables",
        "queries",
        "system_session_properties",
        "catalog_session_properties",
        "impersonation",
        "functions",
        "procedures",
        "authorization",
        "system_information",
    }
    assert set(document) == expected_lists
    subject_keys = {"user", "group", "role", "original_role"}
    for key, rules_list in document.items():
        last = rules_list[-1]
        restricted = {k for k in subject_keys & set(last) if last[k] != ".*"}
        assert not restricted, f"{key}: the last rule must match every user"
        assert all(v in (".*", False, [], "none") for v in last.values()), (key, last)
        assert last.get("allow", last.get("privileges", last.get("owner"))) in (False, [], "none")


@pytest.mark.parametrize("stack", STACKS)
def test_every_pii_column_is_masked_for_every_group_but_stewards_and_writers(stack: str) -> None:
    access, evaluator = policy(stack), rules(stack)
    checked_stewards = 0
    for table in access.classified_tables:
        for identity, role, group in identities(access):
            decision = evaluator.table(identity, table.catalog, table.schema_name, table.table)
            if "SELECT" not in decision.privileges:
                # the model and the evaluator agree on who may read the table
                assert "SELECT" not in access.privileges_of(group, table)
                continue
            writes = set(decision.privileges) & {"INSERT", "UPDATE", "DELETE"}
            for column in table.pii:
                if role in CLEAR_PII_ROLES or writes:
                    assert column.name not in decision.masks, (identity, table.qualified)
                    checked_stewards += 1
                else:
                    assert decision.masks.get(column.name) == column.mask, (
                        f"{identity.user} ({group}) would read {table.qualified}.{column.name} "
                        "in clear"
                    )
    assert checked_stewards > 0, "stewards must read the PII tables in clear"


@pytest.mark.parametrize("stack", STACKS)
def test_analysts_see_masked_email_and_only_their_region(stack: str) -> None:
    evaluator = rules(stack)
    amelie = Identity(user="amelie", groups=frozenset({"analysts-emea"}))
    carlos = Identity(user="carlos", groups=frozenset({"analysts-amer"}))
    grace = Identity(user="grace", groups=frozenset({"stewards"}))
    for catalog, schema, table, email in (
        ("lake", "gold", "customers", "email"),
        ("warehouse", "curated", "orders", "customer_email"),
    ):
        emea = evaluator.table(amelie, catalog, schema, table)
        assert emea.privileges == {"SELECT"}
        assert emea.masks[email] == f"'***@' || split_part({email}, '@', 2)"
        assert emea.filter == "region = 'EMEA'"
        assert evaluator.table(carlos, catalog, schema, table).filter == "region = 'AMER'"
        steward = evaluator.table(grace, catalog, schema, table)
        assert steward.privileges == {"SELECT"}
        assert steward.masks == {} and steward.filter is None
    # analysts read only the curated layers, never raw or staging data
    assert evaluator.table(amelie, "lake", "bronze", "events").privileges == frozenset()
    assert evaluator.table(amelie, "warehouse", "staging", "orders").privileges == frozenset()
    assert evaluator.table(amelie, "lake", "gold", "revenue").privileges == {"SELECT"}


@pytest.mark.parametrize("stack", STACKS)
def test_analysts_get_system_metadata_only(stack: str) -> None:
    """Field failure 7: analysts browse `system.jdbc`/`system.metadata` (read-only) and
    nothing else of `system`."""
    access, evaluator = policy(stack), rules(stack)
    for identity, role, _ in identities(access):
        if role is not Role.ANALYST:
            continue
        assert evaluator.catalog_access(identity, "system") == "read-only"
        for schema, table in (("runtime", "nodes"), ("runtime", "queries"), ("runtime", "tasks")):
            assert evaluator.table(identity, "system", schema, table).privileges == frozenset()
        for schema, table in (("jdbc", "tables"), ("jdbc", "columns"), ("metadata", "catalogs")):
            assert evaluator.table(identity, "system", schema, table).privileges == {"SELECT"}
        assert not evaluator.system_session_property(identity, "query_max_memory")
    admin = Identity(user="platform-admin", groups=frozenset({"admins"}))
    assert evaluator.catalog_access(admin, "system") == "all"


@pytest.mark.parametrize("stack", STACKS)
def test_unknown_users_get_nothing(stack: str) -> None:
    evaluator = rules(stack)
    for stranger in (
        Identity(user="mallory"),
        Identity(user="mallory", groups=frozenset({"contractors"})),
        Identity(user="admin", roles=frozenset({"admin"})),
    ):
        for catalog in ("lake", "warehouse", "system", "tpch"):
            assert evaluator.catalog_access(stranger, catalog) == "none"
            assert evaluator.table(stranger, catalog, "gold", "customers").privileges == frozenset()
            assert not evaluator.schema_owner(stranger, catalog, "gold")
            assert not evaluator.catalog_session_property(stranger, catalog, "compression_codec")
        assert not evaluator.query(stranger, "execute")
        assert not evaluator.query(stranger, "view", owner="amelie")
        assert not evaluator.system_session_property(stranger, "query_max_run_time")
        assert not evaluator.impersonation(stranger, "amelie")


@pytest.mark.parametrize("stack", STACKS)
def test_queries_sessions_and_impersonation_follow_config(stack: str) -> None:
    evaluator = rules(stack)
    amelie = Identity(user="amelie", groups=frozenset({"analysts-emea"}))
    grace = Identity(user="grace", groups=frozenset({"stewards"}))
    admin = Identity(user="platform-admin", groups=frozenset({"admins"}))
    redash = Identity(user="svc-redash", groups=frozenset({"bi-tools"}))
    dagster = Identity(user="svc-dagster", groups=frozenset({"pipelines"}))
    assert evaluator.query(amelie, "execute")
    assert not evaluator.query(amelie, "view", owner="carlos")
    assert evaluator.query(grace, "view", owner="amelie") and not evaluator.query(
        grace, "kill", owner="amelie"
    )
    assert evaluator.query(admin, "kill", owner="amelie")
    assert evaluator.system_session_property(dagster, "query_max_run_time")
    assert not evaluator.system_session_property(dagster, "query_max_memory")
    assert not evaluator.system_session_property(amelie, "query_max_run_time")
    assert evaluator.catalog_session_property(dagster, "lake", "compression_codec")
    assert not evaluator.catalog_session_property(dagster, "warehouse", "compression_codec")
    assert evaluator.impersonation(redash, "amelie") and evaluator.impersonation(redash, "carlos")
    assert not evaluator.impersonation(redash, "grace")
    assert not evaluator.impersonation(redash, "platform-admin")
    assert not evaluator.impersonation(amelie, "carlos")


def test_prod_writes_only_where_config_says() -> None:
    evaluator = rules("prod")
    priya = Identity(user="priya", groups=frozenset({"engineers"}))
    dagster = Identity(user="svc-dagster", groups=frozenset({"pipelines"}))
    assert "OWNERSHIP" in evaluator.table(priya, "lake", "sandbox", "scratch").privileges
    assert evaluator.table(priya, "lake", "gold", "revenue").privileges == {"SELECT"}
    assert "INSERT" in evaluator.table(dagster, "lake", "silver", "orders").privileges
    assert evaluator.schema_owner(dagster, "lake", "silver")
    assert not evaluator.schema_owner(priya, "lake", "gold")
    assert evaluator.table(dagster, "warehouse", "curated", "orders").privileges == frozenset()


def test_group_file_lists_every_group_in_config_order() -> None:
    access = policy("prod")
    lines = render_group_file(access).splitlines()
    assert lines == [f"{g.name}:{','.join(g.members)}" for g in access.groups]


def test_specific_pii_rules_come_before_the_general_rules() -> None:
    document = rules_document(policy("prod"))
    tables = document["tables"]
    assert tables[0]["catalog"] == "system"  # the metadata rule for every reader
    first_general = next(
        i
        for i, r in enumerate(tables)
        if i > 0 and ("|" in r.get("group", "") or r["table"] == ".*")
    )
    assert all(r["table"] != ".*" for r in tables[1:first_general])
    assert all("columns" not in r and "filter" not in r for r in tables[first_general:])


# --- field failure 1: writers and masks ------------------------------------------------


def _writes(rule: dict[str, Any]) -> set[str]:
    return set(rule.get("privileges", ())) & {"INSERT", "UPDATE", "DELETE"}


@pytest.mark.parametrize("stack", STACKS)
def test_no_rule_gives_writes_with_masks_or_updates_with_a_filter(stack: str) -> None:
    """Field failure 1 (prod: pipelines and admins had writes plus masks on
    lake.gold.customers): Trino refuses writes where the user has a mask, so no generated
    rule may carry both. Failed before the fix on the prod, test and dev rules."""
    for rule in rules_document(policy(stack))["tables"]:
        if _writes(rule):
            assert "columns" not in rule, rule
        if "UPDATE" in rule.get("privileges", ()):
            assert "filter" not in rule, rule


def test_prod_pipelines_and_admins_write_customers_unmasked() -> None:
    evaluator = rules("prod")
    for user, group in (("svc-dagster", "pipelines"), ("platform-admin", "admins")):
        identity = Identity(user=user, groups=frozenset({group}))
        for schema in ("gold", "silver"):
            decision = evaluator.table(identity, "lake", schema, "customers")
            assert {"INSERT", "UPDATE", "DELETE"} <= decision.privileges
            assert decision.masks == {}


def test_row_filter_for_a_group_that_updates_is_refused() -> None:
    raw = access_raw("prod")
    raw["classifiedTables"][0]["rowFilters"].append(
        {"groups": ["pipelines"], "filter": "region = 'EMEA'"}
    )
    _invalid(
        raw,
        r"lake\.gold\.customers: group 'pipelines' has a row filter and UPDATE on the table; "
        r"Trino refuses UPDATE and MERGE",
    )


# --- field failure 7: metadata for readers ----------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_group_reads_system_jdbc_and_metadata(stack: str) -> None:
    """Field failure 7: before the fix every group, admins included, was denied
    `system.jdbc`, so JDBC clients could not list tables."""
    access, evaluator = policy(stack), rules(stack)
    for identity, _, _ in identities(access):
        assert evaluator.catalog_access(identity, "system") in ("read-only", "all")
        assert "SELECT" in evaluator.table(identity, "system", "jdbc", "tables").privileges
        assert "SELECT" in evaluator.table(identity, "system", "metadata", "catalogs").privileges


def test_metadata_rules_name_their_groups() -> None:
    """The generated rules hand `system` to named groups, never to everyone."""
    document = rules_document(policy("prod"))
    generated = [r for r in document["catalogs"] if r.get("catalog") == "system"]
    assert generated and all(r.get("group") for r in generated)
    assert document["tables"][0]["group"]
