"""Trino's file-based access control as a typed policy in stack config, rendered to `rules.json`.

The policy names groups of users (each with a role: analyst, engineer, steward, admin,
service) and, per rule list, who may do what. `AccessPolicy` validates itself before any
resource exists, then `rules_document` renders Trino's system access control file:

- every rule list ends with an explicit deny that matches everyone, because Trino takes
  the first matching rule and an explicit terminal rule makes "nobody anything by
  default" visible in the file itself;
- every column the config classifies as PII is masked for every group but stewards and
  the table's writers: for each classified table the generator writes one rule per group
  that can reach it, before the general table rules, carrying the group's privileges, the
  masks and the group's row filter (a rule is all-or-nothing in Trino, so masks and
  filters must live in the same rule that grants the privileges);
- writers get no masks: Trino refuses INSERT, UPDATE, DELETE and MERGE on a table where
  the user has any column mask, so a masked writer could not write (field failure 1). A
  group that loads a table has its PII in clear anyway. A row filter for a group that
  may UPDATE the table is refused (Trino refuses UPDATE and MERGE under a row filter);
- every group may browse the metadata of what it can read: the generator grants the
  `system` catalog read-only and SELECT on `system.jdbc` and `system.metadata` (JDBC
  clients list tables there; Trino filters those rows by the caller's own access), and
  nothing else of `system` (runtime, nodes, queries stay denied to non-admins);
- the catalog `system` is never granted by config to analysts, and table functions and
  procedures (which could run raw SQL in a connected database, bypassing masks) are denied.

Names and patterns are deliberately restricted to identifiers and `a|b` alternations (or
`.*`), so "rule A covers rule B" is decidable and shadowed rules are config errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, model_validator

from components.runtime.stack import SettingsModel, Tier

ANY = ".*"
DATA_CATALOGS = ("lake", "warehouse", "kafka")
"""The catalogs the Trino component renders (`kafka` where the stack exposes topics);
`system` is Trino's own."""
SYSTEM_CATALOG = "system"
KNOWN_CATALOGS = (*DATA_CATALOGS, SYSTEM_CATALOG)

_NAME = r"[a-z][a-z0-9_]{0,62}"
NamePattern = Annotated[str, Field(pattern=rf"^(\.\*|{_NAME}(\|{_NAME})*)$")]
"""`.*` (everything) or one or more identifiers separated by `|`."""
Identifier = Annotated[str, Field(pattern=rf"^{_NAME}$")]
GroupName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,39}$")]
UserName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")]
SqlExpression = Annotated[str, Field(min_length=1, max_length=2000)]


class Role(StrEnum):
    """What a group is for; PII visibility and prod ownership follow the role."""

    ANALYST = "analyst"
    ENGINEER = "engineer"
    STEWARD = "steward"
    ADMIN = "admin"
    SERVICE = "service"


CLEAR_PII_ROLES = frozenset({Role.STEWARD})
"""Roles that see PII in clear; every other role gets the column's mask."""


class Privilege(StrEnum):
    """A table privilege of Trino's file-based access control."""

    SELECT = "SELECT"
    INSERT = "INSERT"
    DELETE = "DELETE"
    UPDATE = "UPDATE"
    OWNERSHIP = "OWNERSHIP"
    GRANT_SELECT = "GRANT_SELECT"


READ_PRIVILEGES = frozenset({Privilege.SELECT, Privilege.GRANT_SELECT})
WRITE_PRIVILEGES = frozenset({Privilege.INSERT, Privilege.UPDATE, Privilege.DELETE})
"""Privileges Trino refuses to exercise on a table where the user has a column mask."""
METADATA_SCHEMAS = "jdbc|metadata"
"""The `system` schemas every group may read: JDBC metadata and catalog/table properties."""


class CatalogAccess(StrEnum):
    """How far a catalog rule lets a group into a catalog."""

    ALL = "all"
    READ_ONLY = "read-only"
    NONE = "none"


class QueryPermission(StrEnum):
    """What a query rule allows."""

    EXECUTE = "execute"
    VIEW = "view"
    KILL = "kill"


def pattern_names(pattern: str) -> frozenset[str] | None:
    """The names a pattern matches, or None for `.*` (every name)."""
    return None if pattern == ANY else frozenset(pattern.split("|"))


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether `name` fully matches `pattern` (Trino matches whole names)."""
    names = pattern_names(pattern)
    return names is None or name in names


def pattern_covers(broad: str, narrow: str) -> bool:
    """Whether every name `narrow` matches is also matched by `broad`."""
    broad_names, narrow_names = pattern_names(broad), pattern_names(narrow)
    if broad_names is None:
        return True
    return narrow_names is not None and narrow_names <= broad_names


def _groups_field() -> Any:
    return Field(min_length=1)


class Group(SettingsModel):
    """A named set of users sharing one role; a user belongs to exactly one group."""

    name: GroupName
    role: Role
    members: tuple[UserName, ...] = Field(min_length=1)


class CatalogRule(SettingsModel):
    """Access of some groups to the catalogs a pattern names."""

    groups: tuple[GroupName, ...] = _groups_field()
    catalog: NamePattern
    allow: CatalogAccess


class SchemaRule(SettingsModel):
    """Whether some groups own the schemas a pattern names."""

    groups: tuple[GroupName, ...] = _groups_field()
    catalog: NamePattern
    schema_name: NamePattern = Field(alias="schema")
    owner: bool


class TableRule(SettingsModel):
    """Privileges of some groups on the tables the patterns name (empty = explicitly none)."""

    groups: tuple[GroupName, ...] = _groups_field()
    catalog: NamePattern
    schema_name: NamePattern = Field(alias="schema")
    table: NamePattern = ANY
    privileges: tuple[Privilege, ...]


class PiiColumn(SettingsModel):
    """A column classified as PII and the SQL expression shown instead to non-stewards."""

    name: Identifier
    mask: SqlExpression | None = None


class RowFilter(SettingsModel):
    """A boolean SQL expression limiting the rows some groups see (e.g. their region)."""

    groups: tuple[GroupName, ...] = _groups_field()
    filter: SqlExpression


class ClassifiedTable(SettingsModel):
    """One table's PII columns and row filters."""

    catalog: Identifier
    schema_name: Identifier = Field(alias="schema")
    table: Identifier
    pii: tuple[PiiColumn, ...] = ()
    row_filters: tuple[RowFilter, ...] = ()

    @property
    def qualified(self) -> str:
        """`catalog.schema.table`."""
        return f"{self.catalog}.{self.schema_name}.{self.table}"


class QueryRule(SettingsModel):
    """Query permissions of some groups, optionally only on queries owned by other groups."""

    groups: tuple[GroupName, ...] = _groups_field()
    query_owner_groups: tuple[GroupName, ...] | None = None
    allow: tuple[QueryPermission, ...]

    @model_validator(mode="after")
    def _owner_rules_cannot_execute(self) -> Self:
        if self.query_owner_groups is not None and QueryPermission.EXECUTE in self.allow:
            raise ValueError("a query rule with queryOwnerGroups may not allow 'execute' (Trino)")
        return self


class SessionPropertyRule(SettingsModel):
    """Whether some groups may set the system session properties a pattern names."""

    groups: tuple[GroupName, ...] = _groups_field()
    property: NamePattern = ANY
    allow: bool


class CatalogSessionPropertyRule(SettingsModel):
    """Whether some groups may set a catalog's session properties."""

    groups: tuple[GroupName, ...] = _groups_field()
    catalog: NamePattern
    property: NamePattern = ANY
    allow: bool


class ImpersonationRule(SettingsModel):
    """Whether some users (e.g. a BI tool's service user) may run queries as group members."""

    original_users: tuple[UserName, ...] = Field(min_length=1)
    target_groups: tuple[GroupName, ...] = _groups_field()
    allow: bool = True


class AccessPolicy(SettingsModel):
    """Groups and ordered rule lists; rendered to Trino's `rules.json` by `rules_document`."""

    groups: tuple[Group, ...] = Field(min_length=1)
    catalogs: tuple[CatalogRule, ...] = ()
    schemas: tuple[SchemaRule, ...] = ()
    tables: tuple[TableRule, ...] = ()
    classified_tables: tuple[ClassifiedTable, ...] = ()
    queries: tuple[QueryRule, ...] = ()
    system_session_properties: tuple[SessionPropertyRule, ...] = ()
    catalog_session_properties: tuple[CatalogSessionPropertyRule, ...] = ()
    impersonation: tuple[ImpersonationRule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = [
            *self._membership_problems(),
            *self._catalog_name_problems(),
            *self._shadowed_rules(),
            *self._system_catalog_problems(),
            *self._catalog_reach_problems(),
            *self._classification_problems(),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- lookups -------------------------------------------------------------------

    def group(self, name: str) -> Group:
        """The group called `name`."""
        return next(g for g in self.groups if g.name == name)

    @property
    def users(self) -> tuple[str, ...]:
        """Every user of every group, in config order."""
        return tuple(user for group in self.groups for user in group.members)

    def members(self, groups: Iterable[str]) -> tuple[str, ...]:
        """The users of the named groups, in config order."""
        wanted = set(groups)
        return tuple(u for g in self.groups if g.name in wanted for u in g.members)

    def first_catalog_rule(self, group: str, catalog: str) -> CatalogRule | None:
        """The catalog rule Trino would apply to a member of `group` (first match)."""
        for rule in self.catalogs:
            if group in rule.groups and pattern_matches(rule.catalog, catalog):
                return rule
        return None

    def first_table_rule(
        self, group: str, catalog: str, schema: str, table: str
    ) -> TableRule | None:
        """The configured table rule Trino would apply to a member of `group` (first match)."""
        for rule in self.tables:
            if (
                group in rule.groups
                and pattern_matches(rule.catalog, catalog)
                and pattern_matches(rule.schema_name, schema)
                and pattern_matches(rule.table, table)
            ):
                return rule
        return None

    # --- validation ----------------------------------------------------------------

    def _membership_problems(self) -> list[str]:
        problems: list[str] = []
        names = [g.name for g in self.groups]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            problems.append(f"group names must be unique, repeated: {repeated}")
        seen: dict[str, str] = {}
        for group in self.groups:
            for user in group.members:
                if user in seen and seen[user] != group.name:
                    problems.append(
                        f"user {user!r} is in groups {seen[user]!r} and {group.name!r}: a user "
                        "belongs to exactly one group, since Trino applies only the first "
                        "matching rule"
                    )
                seen.setdefault(user, group.name)
        known = set(names)
        for where, groups in self._group_references():
            unknown = [g for g in groups if g not in known]
            if unknown:
                problems.append(f"{where} names unknown groups {unknown}")
        users = set(self.users)
        for index, rule in enumerate(self.impersonation):
            unknown = [u for u in rule.original_users if u not in users]
            if unknown:
                problems.append(f"impersonation[{index}] names unknown users {unknown}")
        return problems

    def _group_references(self) -> Iterable[tuple[str, Sequence[str]]]:
        lists: dict[str, Sequence[Any]] = {
            "catalogs": self.catalogs,
            "schemas": self.schemas,
            "tables": self.tables,
            "queries": self.queries,
            "systemSessionProperties": self.system_session_properties,
            "catalogSessionProperties": self.catalog_session_properties,
        }
        for key, rules in lists.items():
            for index, rule in enumerate(rules):
                yield f"{key}[{index}]", rule.groups
        for index, query in enumerate(self.queries):
            yield f"queries[{index}].queryOwnerGroups", query.query_owner_groups or ()
        for index, imp in enumerate(self.impersonation):
            yield f"impersonation[{index}].targetGroups", imp.target_groups
        for index, table in enumerate(self.classified_tables):
            for row_filter in table.row_filters:
                yield f"classifiedTables[{index}].rowFilters", row_filter.groups

    def _catalog_name_problems(self) -> list[str]:
        problems: list[str] = []
        patterns: list[tuple[str, str]] = [
            *((f"catalogs[{i}]", r.catalog) for i, r in enumerate(self.catalogs)),
            *((f"schemas[{i}]", r.catalog) for i, r in enumerate(self.schemas)),
            *((f"tables[{i}]", r.catalog) for i, r in enumerate(self.tables)),
            *((f"classifiedTables[{i}]", r.catalog) for i, r in enumerate(self.classified_tables)),
            *(
                (f"catalogSessionProperties[{i}]", r.catalog)
                for i, r in enumerate(self.catalog_session_properties)
            ),
        ]
        for where, pattern in patterns:
            unknown = sorted((pattern_names(pattern) or frozenset()) - set(KNOWN_CATALOGS))
            if unknown:
                problems.append(
                    f"{where} names unknown catalogs {unknown} (known: {list(KNOWN_CATALOGS)})"
                )
        return problems

    def _shadowed_rules(self) -> list[str]:
        """Rules that can never apply because an earlier rule matches everything they match."""
        problems: list[str] = []

        def check(key: str, rules: Sequence[Any], subjects: Any, objects: Any) -> None:
            for later_index, later in enumerate(rules):
                for earlier_index, earlier in enumerate(rules[:later_index]):
                    if set(subjects(earlier)) >= set(subjects(later)) and all(
                        pattern_covers(a, b)
                        for a, b in zip(objects(earlier), objects(later), strict=True)
                    ):
                        problems.append(
                            f"{key}[{later_index}] is shadowed by the broader rule "
                            f"{key}[{earlier_index}], which matches first for every user and "
                            "object it matches: move it above or remove it"
                        )
                        break

        def owners(rule: QueryRule) -> tuple[str]:
            if rule.query_owner_groups is None:
                return (ANY,)
            return ("|".join(self.members(rule.query_owner_groups)) or "nobody",)

        def targets(rule: ImpersonationRule) -> tuple[str]:
            return ("|".join(self.members(rule.target_groups)) or "nobody",)

        check("catalogs", self.catalogs, lambda r: r.groups, lambda r: (r.catalog,))
        check("schemas", self.schemas, lambda r: r.groups, lambda r: (r.catalog, r.schema_name))
        check(
            "tables",
            self.tables,
            lambda r: r.groups,
            lambda r: (r.catalog, r.schema_name, r.table),
        )
        check("queries", self.queries, lambda r: r.groups, owners)
        check(
            "systemSessionProperties",
            self.system_session_properties,
            lambda r: r.groups,
            lambda r: (r.property,),
        )
        check(
            "catalogSessionProperties",
            self.catalog_session_properties,
            lambda r: r.groups,
            lambda r: (r.catalog, r.property),
        )
        check("impersonation", self.impersonation, lambda r: r.original_users, targets)
        return problems

    def _system_catalog_problems(self) -> list[str]:
        problems: list[str] = []
        analysts = {g.name for g in self.groups if g.role is Role.ANALYST}
        for index, rule in enumerate(self.catalogs):
            granted = sorted(analysts & set(rule.groups))
            if (
                granted
                and rule.allow is not CatalogAccess.NONE
                and pattern_matches(rule.catalog, SYSTEM_CATALOG)
            ):
                problems.append(
                    f"catalogs[{index}] grants the {SYSTEM_CATALOG!r} catalog to analyst groups "
                    f"{granted}: analysts never get system.*"
                )
        for index, table_rule in enumerate(self.tables):
            granted = sorted(analysts & set(table_rule.groups))
            if (
                granted
                and table_rule.privileges
                and pattern_matches(table_rule.catalog, SYSTEM_CATALOG)
            ):
                problems.append(
                    f"tables[{index}] grants tables of the {SYSTEM_CATALOG!r} catalog to analyst "
                    f"groups {granted}: analysts never get system.*"
                )
        return problems

    def _catalog_reach_problems(self) -> list[str]:
        """Table grants the catalog rules make useless (no access, or read-only for writes)."""
        problems: list[str] = []
        for index, rule in enumerate(self.tables):
            if not rule.privileges:
                continue
            catalogs = sorted(pattern_names(rule.catalog) or DATA_CATALOGS)
            for group in rule.groups:
                for catalog in catalogs:
                    catalog_rule = self.first_catalog_rule(group, catalog)
                    access = catalog_rule.allow if catalog_rule else CatalogAccess.NONE
                    if access is CatalogAccess.NONE:
                        problems.append(
                            f"tables[{index}] grants {group!r} tables in catalog {catalog!r}, but "
                            f"no catalog rule lets {group!r} into {catalog!r} (Trino denies it)"
                        )
                    writes = sorted(p.value for p in set(rule.privileges) - READ_PRIVILEGES)
                    if access is CatalogAccess.READ_ONLY and writes:
                        problems.append(
                            f"tables[{index}] grants {writes} to {group!r} in catalog "
                            f"{catalog!r}, which the catalog rules make read-only for it"
                        )
        return problems

    def _classification_problems(self) -> list[str]:
        problems: list[str] = []
        seen: set[str] = set()
        for index, table in enumerate(self.classified_tables):
            where = f"classifiedTables[{index}] {table.qualified}"
            if table.qualified in seen:
                problems.append(f"{where} is classified twice")
            seen.add(table.qualified)
            readers = [
                g for g in self.groups if self.privileges_of(g.name, table)
            ]  # groups that reach the table at all
            masked_readers = [g.name for g in readers if not self.sees_clear(g, table)]
            columns = [c.name for c in table.pii]
            if len(columns) != len(set(columns)):
                problems.append(f"{where}: PII columns must be unique, got {columns}")
            for column in table.pii:
                if column.mask is None:
                    problems.append(
                        f"{where}: PII column {column.name!r} has no mask for non-privileged "
                        f"groups (would be shown in clear to {masked_readers or 'any group granted it later'}); "
                        "add `mask:` with a SQL expression, e.g. "
                        f"\"'***@' || split_part({column.name}, '@', 2)\""
                    )
            filtered: list[str] = []
            for row_filter in table.row_filters:
                for group in row_filter.groups:
                    if group in filtered:
                        problems.append(f"{where}: group {group!r} has two row filters")
                    filtered.append(group)
                    if not any(g.name == group for g in readers):
                        problems.append(
                            f"{where}: row filter for group {group!r}, which has no privileges "
                            "on the table, so the filter could never apply"
                        )
                    if Privilege.UPDATE in self.privileges_of(group, table):
                        problems.append(
                            f"{where}: group {group!r} has a row filter and UPDATE on the table; "
                            "Trino refuses UPDATE and MERGE on a table with a row filter for the "
                            "user: give the writers a group of their own without the filter"
                        )
        return problems

    def sees_clear(self, group: Group, table: ClassifiedTable) -> bool:
        """Whether `group` reads `table`'s PII unmasked: stewards, and the table's writers
        (Trino refuses writes to a table with a mask for the user)."""
        return group.role in CLEAR_PII_ROLES or bool(
            WRITE_PRIVILEGES & set(self.privileges_of(group.name, table))
        )

    def readers(self) -> tuple[str, ...]:
        """Groups that some catalog rule lets into a data catalog (they browse metadata)."""
        return tuple(
            g.name
            for g in self.groups
            if any(
                (rule := self.first_catalog_rule(g.name, catalog)) is not None
                and rule.allow is not CatalogAccess.NONE
                for catalog in DATA_CATALOGS
            )
        )

    def privileges_of(self, group: str, table: ClassifiedTable) -> tuple[Privilege, ...]:
        """The privileges the configured table rules give `group` on `table` (first match)."""
        rule = self.first_table_rule(group, table.catalog, table.schema_name, table.table)
        return rule.privileges if rule else ()

    def tier_problems(self, tier: Tier) -> list[str]:
        """Rules acceptable in dev but not in `tier` (prod: OWNERSHIP on `.*` only for admins)."""
        if tier is not Tier.PROD:
            return []
        problems: list[str] = []

        def non_admins(groups: Sequence[str]) -> list[str]:
            return [g for g in groups if self.group(g).role is not Role.ADMIN]

        for index, rule in enumerate(self.tables):
            offenders = non_admins(rule.groups)
            if Privilege.OWNERSHIP in rule.privileges and rule.schema_name == ANY and offenders:
                problems.append(
                    f"access.tables[{index}] grants OWNERSHIP on catalog {rule.catalog!r}, "
                    f"schema {rule.schema_name!r}, table {rule.table!r} to non-admin groups "
                    f"{offenders}: in prod only admin groups may own every schema; name the "
                    "schemas instead of '.*'"
                )
        for index, schema_rule in enumerate(self.schemas):
            offenders = non_admins(schema_rule.groups)
            if schema_rule.owner and schema_rule.schema_name == ANY and offenders:
                problems.append(
                    f"access.schemas[{index}] grants OWNERSHIP of every schema (catalog "
                    f"{schema_rule.catalog!r}, schema '.*') to non-admin groups "
                    f"{offenders}: in prod only admin groups may own '.*'"
                )
        return problems


# --- rendering ---------------------------------------------------------------------


def _groups(groups: Sequence[str]) -> str:
    return "|".join(groups)


def _metadata_rules(policy: AccessPolicy) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The `system` catalog (read-only) and SELECT on its metadata schemas, for readers."""
    readers = policy.readers()
    if not readers:
        return None
    return (
        {"group": _groups(readers), "catalog": SYSTEM_CATALOG, "allow": "read-only"},
        {
            "group": _groups(readers),
            "catalog": SYSTEM_CATALOG,
            "schema": METADATA_SCHEMAS,
            "table": ANY,
            "privileges": [Privilege.SELECT.value],
        },
    )


def _table_rules(policy: AccessPolicy) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    metadata = _metadata_rules(policy)
    if metadata:
        rules.append(metadata[1])
    # Per classified table and group, a specific rule first: masks and filters only take
    # effect in the rule that matches, so it repeats the group's privileges on the table.
    for table in policy.classified_tables:
        filters = {g: f.filter for f in table.row_filters for g in f.groups}
        for group in policy.groups:
            privileges = policy.privileges_of(group.name, table)
            if not privileges:
                continue
            rule: dict[str, Any] = {
                "group": group.name,
                "catalog": table.catalog,
                "schema": table.schema_name,
                "table": table.table,
                "privileges": [p.value for p in privileges],
            }
            if table.pii and not policy.sees_clear(group, table):
                rule["columns"] = [{"name": c.name, "mask": c.mask} for c in table.pii]
            if group.name in filters:
                rule["filter"] = filters[group.name]
            rules.append(rule)
    for table_rule in policy.tables:
        rules.append(
            {
                "group": _groups(table_rule.groups),
                "catalog": table_rule.catalog,
                "schema": table_rule.schema_name,
                "table": table_rule.table,
                "privileges": [p.value for p in table_rule.privileges],
            }
        )
    rules.append({"catalog": ANY, "schema": ANY, "table": ANY, "privileges": []})
    return rules


def rules_document(policy: AccessPolicy) -> dict[str, list[dict[str, Any]]]:
    """Trino's system access control rules for `policy`; each list ends with a deny-all."""
    admins = policy.members(g.name for g in policy.groups if g.role is Role.ADMIN)
    metadata = _metadata_rules(policy)
    queries: list[dict[str, Any]] = []
    for query in policy.queries:
        rule: dict[str, Any] = {"group": _groups(query.groups)}
        if query.query_owner_groups is not None:
            rule["queryOwner"] = _groups(policy.members(query.query_owner_groups))
        rule["allow"] = [p.value for p in query.allow]
        queries.append(rule)
    return {
        "catalogs": [
            *(
                {"group": _groups(r.groups), "catalog": r.catalog, "allow": r.allow.value}
                for r in policy.catalogs
            ),
            *([metadata[0]] if metadata else []),
            {"catalog": ANY, "allow": CatalogAccess.NONE.value},
        ],
        "schemas": [
            *(
                {
                    "group": _groups(r.groups),
                    "catalog": r.catalog,
                    "schema": r.schema_name,
                    "owner": r.owner,
                }
                for r in policy.schemas
            ),
            {"catalog": ANY, "schema": ANY, "owner": False},
        ],
        "tables": _table_rules(policy),
        "queries": [*queries, {"allow": []}],
        "system_session_properties": [
            *(
                {"group": _groups(r.groups), "property": r.property, "allow": r.allow}
                for r in policy.system_session_properties
            ),
            {"property": ANY, "allow": False},
        ],
        "catalog_session_properties": [
            *(
                {
                    "group": _groups(r.groups),
                    "catalog": r.catalog,
                    "property": r.property,
                    "allow": r.allow,
                }
                for r in policy.catalog_session_properties
            ),
            {"catalog": ANY, "property": ANY, "allow": False},
        ],
        "impersonation": [
            *(
                {
                    "original_user": "|".join(r.original_users),
                    "new_user": "|".join(policy.members(r.target_groups)),
                    "allow": r.allow,
                }
                for r in policy.impersonation
            ),
            {"original_user": ANY, "new_user": ANY, "allow": False},
        ],
        "functions": [{"catalog": ANY, "schema": ANY, "function": ANY, "privileges": []}],
        "procedures": [{"catalog": ANY, "schema": ANY, "procedure": ANY, "privileges": []}],
        "authorization": [{"original_user": ANY, "new_user": ANY, "new_role": ANY, "allow": False}],
        "system_information": [
            *([{"user": "|".join(admins), "allow": ["read", "write"]}] if admins else []),
            {"allow": []},
        ],
    }


def render_rules_json(policy: AccessPolicy) -> str:
    """`rules.json`: deterministic (config order, fixed key order), two-space indented."""
    return json.dumps(rules_document(policy), indent=2) + "\n"


def render_group_file(policy: AccessPolicy) -> str:
    """The file group provider's `group:user1,user2` lines, in config order."""
    return "".join(f"{g.name}:{','.join(g.members)}\n" for g in policy.groups)
