"""The stacks' Trino access policy, judged by a real Trino running the rendered files.

For every group of the prod and test stacks' policies, one member queries the seeded
tables (tests/integration/trino_lake.py) and the engine's answers are compared with what
the policy says (`AccessPolicy` lookups) and with the test-only evaluator of the same
`rules.json` (tests/support/trino_evaluator.py), which the unit tests use for speed and
which must agree with the engine on every case here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from trino.exceptions import TrinoUserError

from components.trino.access import (
    READ_PRIVILEGES,
    WRITE_PRIVILEGES,
    AccessPolicy,
    CatalogAccess,
    Group,
    Privilege,
    Role,
    rules_document,
)
from tests.integration.trino_lake import SeededTable, clear_value, seeded_tables
from tests.integration.trino_server import TRINO_VERSION, TrinoServer
from tests.support.trino_evaluator import Identity, Rules

pytestmark = pytest.mark.integration


def _policy(server: TrinoServer) -> AccessPolicy:
    return server.settings.access


def _member(group: Group) -> str:
    return group.members[0]


def _attempt(server: TrinoServer, user: str, sql: str) -> list[list[Any]] | None:
    """The rows, or None when the engine denies access (any other error fails the test)."""
    try:
        return server.query(user, sql)
    except TrinoUserError as error:
        if "Access Denied" in str(error):
            return None
        raise


def expected_privileges(
    policy: AccessPolicy, group: str, table: SeededTable | tuple[str, str, str]
) -> frozenset[str]:
    """What the policy gives `group` on `table`: the first catalog rule, then the first
    table rule (a read-only catalog leaves only reading privileges)."""
    catalog, schema, name = (
        table if isinstance(table, tuple) else (table.catalog, table.schema, table.table)
    )
    catalog_rule = policy.first_catalog_rule(group, catalog)
    if catalog_rule is None or catalog_rule.allow is CatalogAccess.NONE:
        return frozenset()
    rule = policy.first_table_rule(group, catalog, schema, name)
    privileges = frozenset(p.value for p in rule.privileges) if rule else frozenset()
    if catalog_rule.allow is CatalogAccess.READ_ONLY:
        privileges &= {p.value for p in READ_PRIVILEGES}
    return privileges


def _evaluated(server: TrinoServer, group: Group, table: SeededTable) -> Any:
    rules = Rules(rules_document(_policy(server)))
    identity = Identity(user=_member(group), groups=frozenset({group.name}))
    return rules.table(identity, table.catalog, table.schema, table.table)


def test_the_server_is_the_release_the_docs_name(trino: TrinoServer) -> None:
    """The tests run the Trino release docs/trino.md names, with the stack's rules loaded."""
    assert trino.info()["nodeVersion"]["version"] == TRINO_VERSION
    assert "access-control.name=file" in trino.files["etc/access-control.properties"]
    print(f"Trino {TRINO_VERSION} ({trino.stack}) started in {trino.startup_seconds:.0f} s")


def test_each_group_reads_exactly_what_the_policy_grants(trino: TrinoServer) -> None:
    """SELECT as each group on each seeded table: allowed exactly where the policy (and
    the evaluator) give SELECT; everything else, final deny included, is denied."""
    policy = _policy(trino)
    mismatches = []
    for group in policy.groups:
        for table in seeded_tables(trino.settings):
            allowed = _attempt(trino, _member(group), f"SELECT count(*) FROM {table.qualified}")
            engine = allowed is not None
            model = Privilege.SELECT.value in expected_privileges(policy, group.name, table)
            evaluator = "SELECT" in _evaluated(trino, group, table).privileges
            if not engine == model == evaluator:
                mismatches.append((group.name, table.qualified, engine, model, evaluator))
    assert mismatches == [], "(group, table, engine, policy, evaluator)"


def test_pii_comes_back_masked_except_for_stewards_and_writers(trino: TrinoServer) -> None:
    """Every PII column a group can read is masked by the engine unless the group is a
    steward or writes the table; the evaluator names the same masks."""
    policy = _policy(trino)
    checked = 0
    for group in policy.groups:
        for table in (t for t in seeded_tables(trino.settings) if t.pii):
            if Privilege.SELECT.value not in expected_privileges(policy, group.name, table):
                continue
            columns = ", ".join(table.pii)
            rows = trino.query(
                _member(group), f"SELECT id, {columns} FROM {table.qualified} WHERE id <= 4"
            )
            assert rows, (group.name, table.qualified)
            masked = group.role is not Role.STEWARD and not (
                WRITE_PRIVILEGES & set(expected_privileges(policy, group.name, table))
            )
            for row in rows:
                for column, value in zip(table.pii, row[1:], strict=True):
                    assert (value != clear_value(column, row[0])) is masked, (
                        group.name,
                        table.qualified,
                        column,
                        value,
                    )
            assert set(_evaluated(trino, group, table).masks) == (
                set(table.pii) if masked else set()
            )
            checked += 1
    assert checked >= 5


def test_row_filters_filter(trino: TrinoServer) -> None:
    """A group with a row filter sees exactly the rows the filter selects; others see all."""
    policy = _policy(trino)
    steward = next(g for g in policy.groups if g.role is Role.STEWARD)
    filtered = 0
    for classified in policy.classified_tables:
        table = classified.qualified
        filters = {g: f.filter for f in classified.row_filters for g in f.groups}
        everything = trino.query(_member(steward), f"SELECT id FROM {table} ORDER BY id")
        for group in policy.groups:
            rows = _attempt(trino, _member(group), f"SELECT id FROM {table} ORDER BY id")
            if rows is None:
                continue
            expected = everything
            if group.name in filters:
                expected = trino.query(
                    _member(steward),
                    f"SELECT id FROM {table} WHERE {filters[group.name]} ORDER BY id",
                )
                assert 0 < len(expected) < len(everything)
                filtered += 1
            assert rows == expected, (group.name, table)
    assert filtered >= 2


def test_writers_write_classified_tables(trino: TrinoServer) -> None:
    """Field failure 1: every group the policy lets write a table can INSERT, UPDATE and
    DELETE there through the engine (Trino refuses writes where the user has a mask)."""
    policy = _policy(trino)
    writes = 0
    for index, group in enumerate(policy.groups):
        for table in seeded_tables(trino.settings):
            if table.catalog == "warehouse" and table.schema != "staging":
                continue  # the `trino` PostgreSQL login writes only staging (least privilege)
            privileges = expected_privileges(policy, group.name, table)
            if Privilege.INSERT.value not in privileges:
                continue
            user, row_id = _member(group), 100 + index
            values = ", ".join(
                [str(row_id), "'EMEA'", *(f"'{clear_value(c, row_id)}'" for c in table.pii)]
            )
            trino.query(user, f"INSERT INTO {table.qualified} VALUES ({values})")
            if Privilege.UPDATE.value in privileges and table.catalog == "lake":
                trino.query(
                    user, f"UPDATE {table.qualified} SET region = 'AMER' WHERE id = {row_id}"
                )
            if Privilege.DELETE.value in privileges:
                trino.query(user, f"DELETE FROM {table.qualified} WHERE id = {row_id}")
            writes += 1
    assert writes >= 4


def test_readers_cannot_write(trino: TrinoServer) -> None:
    """A group with SELECT only is denied INSERT and DELETE by the engine."""
    policy = _policy(trino)
    for group in (g for g in policy.groups if g.role is Role.ANALYST):
        for table in seeded_tables(trino.settings):
            if expected_privileges(policy, group.name, table) & {p.value for p in WRITE_PRIVILEGES}:
                continue
            denied = _attempt(trino, _member(group), f"DELETE FROM {table.qualified} WHERE id = 1")
            assert denied is None, (group.name, table.qualified)


_JDBC_TABLES = (
    "SELECT table_cat, table_schem, table_name FROM system.jdbc.tables "
    "WHERE table_cat IN ('lake', 'warehouse') AND table_schem <> 'information_schema'"
)


def test_jdbc_metadata_lists_exactly_what_a_group_may_use(trino: TrinoServer) -> None:
    """Field failure 7: `system.jdbc.tables` (what JDBC clients' DatabaseMetaData reads)
    and each catalog's `information_schema.tables` list exactly the group's own tables."""
    policy = _policy(trino)
    admin = next(g for g in policy.groups if g.role is Role.ADMIN)
    every_table = {tuple(r) for r in trino.query(_member(admin), _JDBC_TABLES)}
    seeded = {(t.catalog, t.schema, t.table) for t in seeded_tables(trino.settings)}
    assert seeded <= every_table  # admins may use every table of lake and warehouse
    for group in policy.groups:
        expected = {t for t in every_table if expected_privileges(policy, group.name, t)}
        rows = trino.query(_member(group), _JDBC_TABLES)
        assert {tuple(r) for r in rows} == expected, group.name
        schema_rows: set[tuple] = set()
        for catalog in ("lake", "warehouse"):
            listed = _attempt(
                trino,
                _member(group),
                f"SELECT table_catalog, table_schema, table_name FROM {catalog}.information_schema.tables "
                "WHERE table_schema <> 'information_schema'",
            )
            schema_rows |= {tuple(r) for r in listed or ()}
        assert schema_rows == expected, group.name


def test_system_runtime_stays_denied_to_non_admins(trino: TrinoServer) -> None:
    """Browsing metadata opens `system.jdbc` and `system.metadata` only: runtime objects
    (nodes, queries, tasks) stay denied to every non-admin group."""
    for group in (g for g in _policy(trino).groups if g.role is not Role.ADMIN):
        for table in ("runtime.nodes", "runtime.queries", "runtime.tasks"):
            assert _attempt(trino, _member(group), f"SELECT * FROM system.{table}") is None


def test_catalogs_listed_are_the_granted_ones(trino: TrinoServer) -> None:
    """`SHOW CATALOGS` lists a data catalog only for groups a catalog rule lets in."""
    policy = _policy(trino)
    for group in policy.groups:
        shown = {r[0] for r in trino.query(_member(group), "SHOW CATALOGS")}
        granted = {
            c
            for c in ("lake", "warehouse")
            if (rule := policy.first_catalog_rule(group.name, c)) is not None
            and rule.allow is not CatalogAccess.NONE
        }
        assert shown - {"system"} == granted, group.name


def test_wrong_password_is_refused(trino: TrinoServer) -> None:
    """The rendered password authenticator really authenticates (HTTPS, file passwords)."""
    user = _policy(trino).users[0]
    right = trino.passwords[user]
    trino.passwords[user] = "not-" + right
    try:
        with pytest.raises(Exception, match=re.compile("401|Invalid credentials")):
            trino.query(user, "SELECT 1")
    finally:
        trino.passwords[user] = right
