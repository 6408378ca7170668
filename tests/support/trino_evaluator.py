"""TEST-ONLY: Trino's documented first-match semantics for file-based system access control.

Used only to assert properties of the `rules.json` our program generates (masks, row
filters, default deny), never by the program itself. It follows the documentation of
"File-based access control" (trino.io/docs/current/security/file-system-access-control.html)
and is itself tested against that page's examples in `tests/unit/test_trino_evaluator.py`:

- in each rule list the first matching rule wins; if the list exists and no rule matches,
  access is denied; if a list is absent, that kind of access is not restricted
  (impersonation excepted: absent means denied);
- a rule's `user`, `role`, `group` (and the object patterns) default to "match anything";
  a `group`/`role` pattern matches when any of the user's groups/roles matches it;
  patterns match the whole name (Java `Matcher.matches`);
- all users may access the `system` catalog unless a catalog rule says otherwise (Trino
  appends an allow-all rule for `system` after the configured catalog rules);
- table access also needs catalog access: `read-only` leaves only reading privileges;
- masks and the row filter come from the same first matching table rule;
- users may always view and kill their own queries; a query rule with `queryOwner`
  never matches query execution.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Rule = Mapping[str, Any]
READ_PRIVILEGES = frozenset({"SELECT", "GRANT_SELECT"})
ALL_PRIVILEGES = frozenset({"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"})
_SYSTEM_CATALOG_DEFAULT: Rule = {"catalog": "system", "allow": "all"}


@dataclass(frozen=True)
class Identity:
    """Who asks: the user name, the groups the group provider gives it, enabled roles."""

    user: str
    groups: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableAccess:
    """What the first matching table rule (intersected with catalog access) gives."""

    privileges: frozenset[str]
    masks: dict[str, str] = field(default_factory=dict)
    denied_columns: frozenset[str] = frozenset()
    filter: str | None = None


NO_TABLE_ACCESS = TableAccess(privileges=frozenset())


def _full(pattern: str | None, value: str | None) -> bool:
    """A missing pattern matches anything; a present one must match the whole value."""
    if pattern is None:
        return True
    if value is None:
        return False
    return re.fullmatch(pattern, value) is not None


def _any(pattern: str | None, values: frozenset[str]) -> bool:
    if pattern is None:
        return True
    return any(re.fullmatch(pattern, value) for value in values)


def _subject(rule: Rule, identity: Identity) -> bool:
    return (
        _full(rule.get("user"), identity.user)
        and _any(rule.get("role"), identity.roles)
        and _any(rule.get("group"), identity.groups)
    )


def _allow_value(value: Any) -> str:
    """Catalog `allow`: `all`, `read-only`, `none`; legacy booleans map to all/none."""
    if value is True:
        return "all"
    if value is False or value is None:
        return "none"
    return str(value)


class Rules:
    """A parsed system access control file and the decisions Trino would take from it."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def _first(self, section: str, predicate: Any) -> Rule | None:
        for rule in self.document.get(section) or ():
            if predicate(rule):
                return rule
        return None

    def _first_flag(self, section: str, flag: str, identity: Identity, **names: str) -> bool:
        """The boolean `flag` of the first rule of `section` matching the user and every
        `names` field (a missing section allows everything, as in Trino)."""
        if section not in self.document:
            return True
        rule = self._first(
            section,
            lambda r: (
                _subject(r, identity)
                and all(_full(r.get(key), value) for key, value in names.items())
            ),
        )
        return bool(rule and rule.get(flag))

    # --- catalogs, schemas, tables ---------------------------------------------------

    def catalog_access(self, identity: Identity, catalog: str) -> str:
        """`all`, `read-only` or `none`."""
        if "catalogs" not in self.document:
            return "all"
        rules: Sequence[Rule] = [*self.document["catalogs"], _SYSTEM_CATALOG_DEFAULT]
        for rule in rules:
            if _subject(rule, identity) and _full(rule.get("catalog"), catalog):
                return _allow_value(rule.get("allow"))
        return "none"

    def schema_owner(self, identity: Identity, catalog: str, schema: str) -> bool:
        """Whether the user counts as the schema's owner."""
        return self._first_flag("schemas", "owner", identity, catalog=catalog, schema=schema)

    def table_rule(self, identity: Identity, catalog: str, schema: str, table: str) -> Rule | None:
        """The first matching table rule, ignoring catalog access."""
        return self._first(
            "tables",
            lambda r: (
                _subject(r, identity)
                and _full(r.get("catalog"), catalog)
                and _full(r.get("schema"), schema)
                and _full(r.get("table"), table)
            ),
        )

    def table(self, identity: Identity, catalog: str, schema: str, table: str) -> TableAccess:
        """Effective privileges, masks, blocked columns and row filter on one table."""
        access = self.catalog_access(identity, catalog)
        if access == "none":
            return NO_TABLE_ACCESS
        if "tables" not in self.document:
            privileges = ALL_PRIVILEGES
            rule: Rule = {}
        else:
            found = self.table_rule(identity, catalog, schema, table)
            if found is None:
                return NO_TABLE_ACCESS
            rule = found
            privileges = frozenset(rule.get("privileges", ()))
        if access == "read-only":
            privileges &= READ_PRIVILEGES
        columns = rule.get("columns", ())
        return TableAccess(
            privileges=privileges,
            masks={c["name"]: c["mask"] for c in columns if "mask" in c},
            denied_columns=frozenset(c["name"] for c in columns if c.get("allow") is False),
            filter=rule.get("filter"),
        )

    # --- queries, session properties, impersonation ------------------------------------

    def query(self, identity: Identity, permission: str, owner: str | None = None) -> bool:
        """Whether the user may `execute` queries, or `view`/`kill` a query of `owner`."""
        if permission in ("view", "kill") and owner == identity.user:
            return True
        if "queries" not in self.document:
            return True
        for rule in self.document["queries"]:
            if not _subject(rule, identity):
                continue
            if "queryOwner" in rule and not _full(rule["queryOwner"], owner):
                continue
            return permission in rule.get("allow", ())
        return False

    def system_session_property(self, identity: Identity, name: str) -> bool:
        """Whether the user may set a system session property."""
        return self._first_flag("system_session_properties", "allow", identity, property=name)

    def catalog_session_property(self, identity: Identity, catalog: str, name: str) -> bool:
        """Whether the user may set a catalog session property."""
        return self._first_flag(
            "catalog_session_properties", "allow", identity, catalog=catalog, property=name
        )

    def impersonation(self, identity: Identity, new_user: str) -> bool:
        """Whether the user may run queries as `new_user` (`$1`... refer to original_user)."""
        for rule in self.document.get("impersonation") or ():
            match = re.fullmatch(rule.get("original_user", ".*"), identity.user)
            if match is None or not _any(rule.get("original_role"), identity.roles):
                continue
            captured = match.groups()
            target = re.sub(
                r"\$(\d+)",
                lambda m, captured=captured: re.escape(captured[int(m.group(1)) - 1] or ""),
                rule["new_user"],
            )
            if re.fullmatch(target, new_user) is None:
                continue
            return bool(rule.get("allow", True))
        return False
