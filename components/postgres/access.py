"""The access model of PostgreSQL in stack config: databases, schemas, groups, logins.

`AccessSettings` (the `postgres.access` section; its shared default is
`components/postgres/defaults.yaml`) says which databases and schemas exist, what each
group role may do in which schema, and which service logins belong to which groups. Its
validator holds the invariants of each group (what an analyst, engineer or steward is),
so config chooses schemas, never what a group may do. `plan.access_plan` turns it into
the specs the component declares and the integration tests apply as SQL.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from components.runtime.stack import SettingsModel

REQUIRED_DATABASES = ("warehouse",)
"""Governance needs the warehouse; services declare their own databases (contracts)."""
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
            raise ValueError(f"databases: {missing} are required (the governed warehouse)")
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
