"""The plan: the access model as ordered specs that render as SQL and declare as resources.

`access_plan()` turns `AccessSettings` into an `AccessPlan`: an ordered list of small
specs (role, database, extension, schema, grant, default privileges). Each spec knows
`sql(verifiers)`, the statements the provider would run for it; `declare.declare_plan`
declares the equivalent pulumi-postgresql resources. The integration tests apply
`plan.sql(...)` to a real server: one model, two outputs, so the tests prove what the
stack declares.

Grant semantics follow the provider: a `Grant` is authoritative for its (role, object):
it revokes everything first, then grants the listed privileges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from components.postgres.access import (
    ADMIN_DATABASE,
    EXTENSIONS,
    PUBLIC,
    SEQUENCE_PRIVILEGES,
    TABLE_PRIVILEGES,
    Access,
    AccessSettings,
    GroupName,
)
from components.postgres.scram import require_verifier


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _grantee(role: str) -> str:
    return "PUBLIC" if role == PUBLIC else ident(role)


@dataclass(frozen=True, kw_only=True)
class RoleSpec:
    """A role: a NOLOGIN group or a LOGIN with a password; never a superuser."""

    name: str
    login: bool
    member_of: tuple[str, ...] = ()
    create_database: bool = False
    create_role: bool = False
    database: str | None = None  # statements run in the admin database

    def sql(self, verifiers: Mapping[str, str]) -> list[str]:
        """CREATE ROLE with explicit attributes (a login's password as its SCRAM verifier
        from `verifiers`; ValueError for anything that is not one), then its memberships."""
        attrs = [
            "LOGIN" if self.login else "NOLOGIN",
            "NOSUPERUSER",
            "CREATEDB" if self.create_database else "NOCREATEDB",
            "CREATEROLE" if self.create_role else "NOCREATEROLE",
            "INHERIT",
            "NOREPLICATION",
            "NOBYPASSRLS",
        ]
        if self.login:
            attrs.append(f"PASSWORD {literal(require_verifier(self.name, verifiers[self.name]))}")
        statements = [f"CREATE ROLE {ident(self.name)} WITH {' '.join(attrs)}"]
        statements += [f"GRANT {ident(g)} TO {ident(self.name)}" for g in self.member_of]
        return statements


@dataclass(frozen=True, kw_only=True)
class DatabaseSpec:
    """A database owned by the admin (the provider's superuser), so it does not wait for
    any login; PUBLIC loses CONNECT and TEMP, its service login gets them by grants."""

    name: str
    owner: str
    database: str | None = None

    def sql(self, verifiers: Mapping[str, str]) -> list[str]:
        """CREATE DATABASE (UTF8, from template0)."""
        return [
            f"CREATE DATABASE {ident(self.name)} WITH OWNER {ident(self.owner)} "
            "TEMPLATE template0 ENCODING 'UTF8'"
        ]


@dataclass(frozen=True, kw_only=True)
class ExtensionSpec:
    """An extension installed in one database."""

    name: str
    database: str

    def sql(self, verifiers: Mapping[str, str]) -> list[str]:
        """CREATE EXTENSION."""
        return [f"CREATE EXTENSION IF NOT EXISTS {ident(self.name)}"]


@dataclass(frozen=True, kw_only=True)
class SchemaSpec:
    """A schema owned by its database's service login."""

    name: str
    owner: str
    database: str

    def sql(self, verifiers: Mapping[str, str]) -> list[str]:
        """CREATE SCHEMA ... AUTHORIZATION owner."""
        return [f"CREATE SCHEMA {ident(self.name)} AUTHORIZATION {ident(self.owner)}"]


_OBJECT_SQL = {"table": "ALL TABLES IN SCHEMA", "sequence": "ALL SEQUENCES IN SCHEMA"}


@dataclass(frozen=True, kw_only=True)
class GrantSpec:
    """Authoritative privileges of `role` on a database, a schema, or all tables/sequences
    of a schema (revoke all, then grant exactly `privileges`)."""

    role: str
    database: str
    object_type: str  # database | schema | table | sequence
    privileges: tuple[str, ...]
    schema: str | None = None

    def _target(self) -> str:
        if self.object_type == "database":
            return f"DATABASE {ident(self.database)}"
        assert self.schema is not None
        if self.object_type == "schema":
            return f"SCHEMA {ident(self.schema)}"
        return f"{_OBJECT_SQL[self.object_type]} {ident(self.schema)}"

    def sql(self, verifiers: Mapping[str, str]) -> list[str]:
        """REVOKE ALL, then GRANT the listed privileges."""
        target = self._target()
        statements = [f"REVOKE ALL ON {target} FROM {_grantee(self.role)}"]
        if self.privileges:
            privileges = ", ".join(self.privileges)
            statements.append(f"GRANT {privileges} ON {target} TO {_grantee(self.role)}")
        return statements


@dataclass(frozen=True, kw_only=True)
class DefaultPrivilegesSpec:
    """Privileges `role` gets on future tables/sequences `owner` creates in `schema`."""

    role: str
    owner: str
    database: str
    schema: str
    object_type: str  # table | sequence
    privileges: tuple[str, ...]

    def sql(self, verifiers: Mapping[str, str]) -> list[str]:
        """ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA ... GRANT ... TO role."""
        kind = {"table": "TABLES", "sequence": "SEQUENCES"}[self.object_type]
        scope = f"FOR ROLE {ident(self.owner)} IN SCHEMA {ident(self.schema)}"
        return [
            f"ALTER DEFAULT PRIVILEGES {scope} REVOKE ALL ON {kind} FROM {ident(self.role)}",
            f"ALTER DEFAULT PRIVILEGES {scope} GRANT {', '.join(self.privileges)} "
            f"ON {kind} TO {ident(self.role)}",
        ]


_T = TypeVar("_T")

Spec = RoleSpec | DatabaseSpec | ExtensionSpec | SchemaSpec | GrantSpec | DefaultPrivilegesSpec


@dataclass(frozen=True)
class AccessPlan:
    """The ordered specs of one stack's access model."""

    specs: tuple[Spec, ...]
    logins: tuple[str, ...] = field(default=())

    def sql(self, verifiers: Mapping[str, str]) -> list[tuple[str, list[str]]]:
        """Batches of statements in apply order, each with the database it runs in;
        `verifiers` maps each login to its SCRAM verifier."""
        batches: list[tuple[str, list[str]]] = []
        for spec in self.specs:
            database = spec.database or ADMIN_DATABASE
            statements = spec.sql(verifiers)
            if batches and batches[-1][0] == database:
                batches[-1][1].extend(statements)
            else:
                batches.append((database, list(statements)))
        return batches

    def of_type(self, kind: type[_T]) -> list[_T]:
        """The specs of one kind, in order."""
        return [s for s in self.specs if isinstance(s, kind)]


DATABASE_OWNER_PRIVILEGES = ("CONNECT", "CREATE", "TEMPORARY")
"""What a service login holds on its own database (which the admin owns): all but ownership."""

PUBLIC_SCHEMA_PRIVILEGES = ("CREATE", "USAGE")
"""What a service login holds on the `public` schema of its own database."""


def access_plan(settings: AccessSettings, *, admin: str) -> AccessPlan:
    """The ordered specs that realise `settings` on a fresh server whose superuser,
    the provider's user, is `admin`.

    Databases are owned by `admin`, not by their service login: a database then waits
    only for the server, so logins and databases are created side by side (a shorter
    deploy graph), and a service cannot drop its database. The service login gets
    `DATABASE_OWNER_PRIVILEGES` on its database and `PUBLIC_SCHEMA_PRIVILEGES` on its
    `public` schema (PostgreSQL 15: owned by pg_database_owner, i.e. `admin`), owns the
    database's declared schemas, and its future tables there follow the groups' grants.
    """
    specs: list[Spec] = []
    specs += [
        RoleSpec(
            name=g.value,
            login=False,
            create_database=g is GroupName.PLATFORM_ADMIN,
            create_role=g is GroupName.PLATFORM_ADMIN,
        )
        for g in GroupName
    ]
    specs += [RoleSpec(name=d.name, login=True) for d in settings.databases]
    specs += [
        RoleSpec(name=login.name, login=True, member_of=tuple(g.value for g in login.member_of))
        for login in settings.logins
    ]
    connect: dict[str, set[str]] = {d.name: set() for d in settings.databases}
    for group in settings.groups:
        for grant in group.grants:
            connect[grant.database].add(group.name.value)
    for database in settings.databases:
        name = database.name
        specs.append(DatabaseSpec(name=name, owner=admin))
        specs.append(GrantSpec(role=PUBLIC, database=name, object_type="database", privileges=()))
        specs.append(
            GrantSpec(
                role=name,
                database=name,
                object_type="database",
                privileges=DATABASE_OWNER_PRIVILEGES,
            )
        )
        specs += [
            GrantSpec(role=role, database=name, object_type="database", privileges=("CONNECT",))
            for role in sorted(connect[name])
        ]
    for database in settings.databases:
        name = database.name
        specs += [ExtensionSpec(name=ext, database=name) for ext in EXTENSIONS]
        # PUBLIC keeps nothing on the `public` schema (PostgreSQL 15 grants it USAGE): the
        # database owner (the admin) owns it through pg_database_owner; the service login
        # works in it by grant; groups use their declared schemas.
        specs.append(
            GrantSpec(
                role=PUBLIC, database=name, object_type="schema", schema=PUBLIC, privileges=()
            )
        )
        specs.append(
            GrantSpec(
                role=name,
                database=name,
                object_type="schema",
                schema=PUBLIC,
                privileges=PUBLIC_SCHEMA_PRIVILEGES,
            )
        )
        specs += [SchemaSpec(name=s.name, owner=name, database=name) for s in database.schemas]
        for group in settings.groups:
            for grant in group.grants:
                if grant.database != name:
                    continue
                specs += _schema_grants(group.name.value, name, grant.schema_, grant.access)
    return AccessPlan(
        specs=tuple(specs),
        logins=tuple([d.name for d in settings.databases] + [x.name for x in settings.logins]),
    )


def _schema_grants(role: str, database: str, schema: str, access: Access) -> list[Spec]:
    common = {"role": role, "database": database, "schema": schema}
    return [
        GrantSpec(object_type="schema", privileges=("USAGE",), **common),
        GrantSpec(object_type="table", privileges=TABLE_PRIVILEGES[access], **common),
        GrantSpec(object_type="sequence", privileges=SEQUENCE_PRIVILEGES[access], **common),
        DefaultPrivilegesSpec(
            object_type="table", owner=database, privileges=TABLE_PRIVILEGES[access], **common
        ),
        DefaultPrivilegesSpec(
            object_type="sequence", owner=database, privileges=SEQUENCE_PRIVILEGES[access], **common
        ),
    ]
