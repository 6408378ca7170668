"""The one role/grant model of PostgreSQL: declared as pulumi-postgresql resources AND as SQL.

`AccessSettings` (stack config) says which databases and schemas exist, what each group
role may do in which schema, and which service logins belong to which groups.
`access_plan()` turns it into an `AccessPlan`: an ordered list of small specs (role,
database, extension, schema, grant, default privileges). Each spec knows
- `sql(verifiers)`: the statements the provider would run for it, and
- `declare(...)`: the equivalent pulumi-postgresql resource.
The Postgres component declares the plan; the integration tests apply `plan.sql(...)` to
a real server. One model, two outputs, so the tests prove what the stack declares.

Role passwords travel as SCRAM-SHA-256 verifiers (`scram_sha256_verifier`), never in
clear text: PostgreSQL stores a verifier given to CREATE/ALTER ROLE ... PASSWORD as is,
and whatever logs the statement (the `STATEMENT:` line of a failed one, `log_statement`,
pg_stat_statements) sees only the verifier.

Grant semantics follow the provider: a `Grant` is authoritative for its (role, object):
it revokes everything first, then grants the listed privileges.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Self, TypeVar

import pulumi
import pulumi_postgresql as postgresql
from pydantic import Field, model_validator

from components.runtime.stack import SettingsModel

REQUIRED_DATABASES = ("warehouse", "dagster", "marquez", "redash", "amundsen", "iceberg")
ADMIN_DATABASE = "postgres"
PUBLIC = "public"
EXTENSIONS = ("pgaudit",)
_RESERVED = {"postgres", "public", "admin", "root", "template0", "template1"}

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")]


class GroupName(StrEnum):
    """The group (NOLOGIN) roles people and services are made members of."""

    ANALYST = "analyst"
    ENGINEER = "engineer"
    STEWARD = "steward"
    PLATFORM_ADMIN = "platform_admin"


class Zone(StrEnum):
    """What a schema holds: curated (published), staging (work in progress), audit views."""

    CURATED = "curated"
    STAGING = "staging"
    AUDIT = "audit"


class Access(StrEnum):
    """What a group may do in one schema."""

    READ = "read"
    WRITE = "write"


TABLE_PRIVILEGES: dict[Access, tuple[str, ...]] = {
    Access.READ: ("SELECT",),
    Access.WRITE: ("DELETE", "INSERT", "SELECT", "UPDATE"),
}
SEQUENCE_PRIVILEGES: dict[Access, tuple[str, ...]] = {
    Access.READ: ("SELECT",),
    Access.WRITE: ("SELECT", "USAGE"),
}


class SchemaSettings(SettingsModel):
    """One schema of a database, owned by the database's owner role."""

    name: Identifier
    zone: Zone


class DatabaseSettings(SettingsModel):
    """One database with its own owner login role (named like the database) and its schemas."""

    name: Identifier
    schemas: tuple[SchemaSettings, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [s.name for s in self.schemas]
        if len(names) != len(set(names)) or PUBLIC in names:
            raise ValueError(f"schema names must be unique and not 'public', got {names}")
        return self


class SchemaGrant(SettingsModel):
    """Access of a group to one schema (`database.schema`)."""

    database: Identifier
    schema_: Identifier = Field(alias="schema")
    access: Access


class GroupSettings(SettingsModel):
    """One group role and its schema grants."""

    name: GroupName
    grants: tuple[SchemaGrant, ...] = ()


class LoginSettings(SettingsModel):
    """A service login role (generated password) and the groups it is a member of."""

    name: Identifier
    member_of: tuple[GroupName, ...] = Field(min_length=1)


class AccessSettings(SettingsModel):
    """Databases, schemas, group grants and service logins of one stack."""

    databases: tuple[DatabaseSettings, ...]
    groups: tuple[GroupSettings, ...]
    logins: tuple[LoginSettings, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [d.name for d in self.databases]
        if len(names) != len(set(names)):
            raise ValueError(f"databases: names must be unique, got {names}")
        missing = [d for d in REQUIRED_DATABASES if d not in names]
        if missing:
            raise ValueError(f"databases: {missing} are required by the platform's services")
        groups = [g.name for g in self.groups]
        if sorted(groups) != sorted(GroupName):
            raise ValueError(
                f"groups: declare each of {[g.value for g in GroupName]} exactly once, got "
                f"{[g.value for g in groups]}"
            )
        schemas = {(d.name, s.name): s.zone for d in self.databases for s in d.schemas}
        for gi, group in enumerate(self.groups):
            for ri, grant in enumerate(group.grants):
                where = f"groups[{gi}].grants[{ri}]"
                zone = schemas.get((grant.database, grant.schema_))
                if zone is None:
                    raise ValueError(
                        f"{where}: unknown schema {grant.database}.{grant.schema_} "
                        f"(declare it under databases[].schemas)"
                    )
                _check_rule(where, group.name, zone, grant.access)
        steward = next(g for g in self.groups if g.name is GroupName.STEWARD)
        read = {(g.database, g.schema_) for g in steward.grants}
        unread = sorted(f"{d}.{s}" for (d, s), z in schemas.items() if (d, s) not in read)
        if unread:
            raise ValueError(
                f"groups (steward): the steward must read every schema, missing {unread}"
            )
        logins = [login.name for login in self.logins]
        clashes = sorted(
            {n for n in logins if logins.count(n) > 1}
            | (set(logins) & set(names))
            | (set(logins) & {g.value for g in GroupName})
            | ((set(logins) | set(names)) & _RESERVED)
        )
        if clashes:
            raise ValueError(
                f"logins: names clash with databases, groups or reserved roles: {clashes}"
            )
        return self


def _check_rule(where: str, group: GroupName, zone: Zone, access: Access) -> None:
    """The invariants of each group; config chooses schemas, not what a group is."""
    if group is GroupName.ANALYST and (zone is not Zone.CURATED or access is not Access.READ):
        raise ValueError(f"{where}: analyst may only read curated schemas ({zone}/{access})")
    if group is GroupName.STEWARD and access is not Access.READ:
        raise ValueError(f"{where}: steward reads everything and writes nothing ({zone}/{access})")
    if group is GroupName.ENGINEER and access is Access.WRITE and zone is not Zone.STAGING:
        raise ValueError(f"{where}: engineer may write staging schemas only ({zone}/{access})")


# ---------------------------------------------------------------------------------------
# The plan: specs that render as SQL and declare as pulumi-postgresql resources.


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


SCRAM_ITERATIONS = 4096
"""PostgreSQL's default `scram_iterations` (src/include/common/scram-common.h)."""
SCRAM_SALT_BYTES = 16
_SCRAM = re.compile(r"^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$")


def scram_salt(seed: str) -> bytes:
    """A `SCRAM_SALT_BYTES` salt derived from a random `seed` generated once per role, so
    the verifier (and the render) stays the same until the password or the seed changes."""
    return hashlib.sha256(seed.encode()).digest()[:SCRAM_SALT_BYTES]


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, the
    format of src/common/scram-common.c `scram_build_secret`):
    `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 parts.

    Only ASCII passwords (ours are generated alphanumeric): PostgreSQL applies SASLprep,
    which leaves ASCII unchanged; anything else raises ValueError.
    """
    if not password or not password.isascii():
        raise ValueError("SCRAM verifiers are built for non-empty ASCII passwords only")
    if len(salt) < SCRAM_SALT_BYTES or iterations < SCRAM_ITERATIONS:
        raise ValueError("salt too short or too few iterations for a SCRAM verifier")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def is_scram_verifier(value: str) -> bool:
    """True when `value` has the form of a SCRAM-SHA-256 verifier."""
    return bool(_SCRAM.match(value))


def require_verifier(role: str, value: str) -> str:
    """`value` if it is a SCRAM verifier; ValueError (naming the role, not the value) if
    it looks like a clear-text password, which must never reach the server."""
    if not is_scram_verifier(value):
        raise ValueError(f"role {role!r}: password must be a SCRAM-SHA-256 verifier")
    return value


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
    """A database owned by its own role; PUBLIC loses CONNECT and TEMP."""

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
    """A schema owned by the database owner."""

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


def access_plan(settings: AccessSettings) -> AccessPlan:
    """The ordered specs that realise `settings` on a fresh server."""
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
        specs.append(DatabaseSpec(name=name, owner=name))
        specs.append(GrantSpec(role=PUBLIC, database=name, object_type="database", privileges=()))
        specs += [
            GrantSpec(role=role, database=name, object_type="database", privileges=("CONNECT",))
            for role in sorted(connect[name])
        ]
    for database in settings.databases:
        name = database.name
        specs += [ExtensionSpec(name=ext, database=name) for ext in EXTENSIONS]
        # PUBLIC keeps nothing on the `public` schema (PostgreSQL 15 grants it USAGE): the
        # database owner owns it (pg_database_owner); groups use their declared schemas.
        specs.append(
            GrantSpec(
                role=PUBLIC, database=name, object_type="schema", schema=PUBLIC, privileges=()
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


# ---------------------------------------------------------------------------------------
# Declaring the plan with pulumi-postgresql.


def spec_name(spec: Spec) -> str:
    """Deterministic logical-name suffix of a spec's resource."""
    match spec:
        case RoleSpec():
            return f"role-{spec.name}"
        case DatabaseSpec():
            return f"db-{spec.name}"
        case ExtensionSpec():
            return f"ext-{spec.database}-{spec.name}"
        case SchemaSpec():
            return f"schema-{spec.database}-{spec.name}"
        case GrantSpec():
            target = spec.database if spec.schema is None else f"{spec.database}-{spec.schema}"
            return f"grant-{spec.role}-{spec.object_type}-{target}"
        case DefaultPrivilegesSpec():
            return f"defaults-{spec.role}-{spec.object_type}-{spec.database}-{spec.schema}"


def declare_plan(
    name: str,
    plan: AccessPlan,
    *,
    verifiers: Mapping[str, pulumi.Output[str]],
    provider: pulumi.ProviderResource,
    parent: pulumi.Resource,
    protect: bool,
    after: Sequence[pulumi.Resource] = (),
) -> dict[str, pulumi.Resource]:
    """Declare every spec as a pulumi-postgresql resource, children of `parent`.

    Every resource also waits for `after`: the server and the way in to it (the
    provider connects lazily, so it need not wait itself). Returns the resources by
    `spec_name`, so consumers can wait for exactly the ones they use.

    `verifiers` maps each login to the SCRAM verifier of its password (secret Outputs);
    a value that is not a verifier fails the deployment instead of reaching the server.

    Each resource depends on the ones it refers to (roles before databases before
    schemas before grants). Databases and schemas are protected when `protect` is set;
    grants are replaced delete-first (a create-then-delete replacement drops the grant).
    """
    base = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(after))
    roles: dict[str, pulumi.Resource] = {}
    databases: dict[str, pulumi.Resource] = {}
    schemas: dict[tuple[str, str], pulumi.Resource] = {}
    created: dict[str, pulumi.Resource] = {}

    def deps(*resources: pulumi.Resource | None) -> list[pulumi.Resource]:
        return [r for r in resources if r is not None]

    for spec in plan.specs:
        logical = f"{name}-{spec_name(spec)}"
        resource: pulumi.Resource
        match spec:
            case RoleSpec():
                resource = postgresql.Role(
                    logical,
                    name=spec.name,
                    login=spec.login,
                    password=(
                        verifiers[spec.name].apply(lambda v, r=spec.name: require_verifier(r, v))
                        if spec.login
                        else None
                    ),
                    superuser=False,
                    create_database=spec.create_database,
                    create_role=spec.create_role,
                    inherit=True,
                    replication=False,
                    bypass_row_level_security=False,
                    roles=list(spec.member_of) or None,
                    opts=base.merge(
                        pulumi.ResourceOptions(depends_on=[roles[g] for g in spec.member_of])
                    ),
                )
                roles[spec.name] = resource
            case DatabaseSpec():
                resource = postgresql.Database(
                    logical,
                    name=spec.name,
                    owner=spec.owner,
                    template="template0",
                    encoding="UTF8",
                    allow_connections=True,
                    opts=base.merge(
                        pulumi.ResourceOptions(protect=protect, depends_on=[roles[spec.owner]])
                    ),
                )
                databases[spec.name] = resource
            case ExtensionSpec():
                resource = postgresql.Extension(
                    logical,
                    name=spec.name,
                    database=spec.database,
                    opts=base.merge(pulumi.ResourceOptions(depends_on=[databases[spec.database]])),
                )
            case SchemaSpec():
                resource = postgresql.Schema(
                    logical,
                    name=spec.name,
                    database=spec.database,
                    owner=spec.owner,
                    drop_cascade=False,
                    opts=base.merge(
                        pulumi.ResourceOptions(
                            protect=protect,
                            depends_on=[databases[spec.database], roles[spec.owner]],
                        )
                    ),
                )
                schemas[(spec.database, spec.name)] = resource
            case GrantSpec():
                schema = schemas.get((spec.database, spec.schema or ""))
                resource = postgresql.Grant(
                    logical,
                    role=spec.role,
                    database=spec.database,
                    object_type=spec.object_type,
                    schema=spec.schema,
                    privileges=list(spec.privileges),
                    opts=base.merge(
                        pulumi.ResourceOptions(
                            delete_before_replace=True,
                            depends_on=deps(databases[spec.database], roles.get(spec.role), schema),
                        )
                    ),
                )
            case DefaultPrivilegesSpec():
                resource = postgresql.DefaultPrivileges(
                    logical,
                    role=spec.role,
                    owner=spec.owner,
                    database=spec.database,
                    schema=spec.schema,
                    object_type=spec.object_type,
                    privileges=list(spec.privileges),
                    opts=base.merge(
                        pulumi.ResourceOptions(
                            delete_before_replace=True,
                            depends_on=deps(
                                roles[spec.role],
                                roles[spec.owner],
                                schemas[(spec.database, spec.schema)],
                            ),
                        )
                    ),
                )
        created[spec_name(spec)] = resource
    return created
