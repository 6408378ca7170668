"""Declaring an access plan with pulumi-postgresql: one resource per spec, in plan order.

Each resource depends on the ones it refers to (databases, owned by the unmanaged admin,
wait for no role; schemas wait for their database and owner; grants for their role,
database and schema) and on `after` (the server and the way in to it). Databases and schemas
are protected when asked; grants are replaced delete-first (a create-then-delete
replacement would drop the grant it just made). Provider docs:
https://www.pulumi.com/registry/packages/postgresql/api-docs/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_postgresql as postgresql

from components.postgres.plan import (
    AccessPlan,
    DatabaseSpec,
    DefaultPrivilegesSpec,
    ExtensionSpec,
    GrantSpec,
    RoleSpec,
    SchemaSpec,
    Spec,
)
from components.postgres.scram import require_verifier


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
    Databases and schemas are protected when `protect` is set.
    """
    base = pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(after))
    declaration = _Declaration(name, base=base, verifiers=verifiers, protect=protect)
    return {spec_name(spec): declaration.declare(spec) for spec in plan.specs}


class _Declaration:
    """The resources declared so far, by what later specs refer to (roles, databases,
    schemas), and how to declare the next spec."""

    def __init__(
        self,
        name: str,
        *,
        base: pulumi.ResourceOptions,
        verifiers: Mapping[str, pulumi.Output[str]],
        protect: bool,
    ) -> None:
        self._name, self._base, self._verifiers, self._protect = name, base, verifiers, protect
        self.roles: dict[str, pulumi.Resource] = {}
        self.databases: dict[str, pulumi.Resource] = {}
        self.schemas: dict[tuple[str, str], pulumi.Resource] = {}

    def _opts(
        self,
        *after: pulumi.Resource | None,
        protect: bool | None = None,
        delete_before_replace: bool | None = None,
    ) -> pulumi.ResourceOptions:
        """The shared options, after the resources in `after` (None: nothing to wait for)."""
        own = pulumi.ResourceOptions(
            depends_on=[r for r in after if r is not None],
            protect=protect,
            delete_before_replace=delete_before_replace,
        )
        return self._base.merge(own)

    def declare(self, spec: Spec) -> pulumi.Resource:
        """The resource of one spec (after the ones it refers to)."""
        logical = f"{self._name}-{spec_name(spec)}"
        match spec:
            case RoleSpec():
                return self._role(logical, spec)
            case DatabaseSpec():
                return self._database(logical, spec)
            case ExtensionSpec():
                return postgresql.Extension(
                    logical,
                    name=spec.name,
                    database=spec.database,
                    opts=self._opts(self.databases[spec.database]),
                )
            case SchemaSpec():
                return self._schema(logical, spec)
            case GrantSpec():
                return self._grant(logical, spec)
            case DefaultPrivilegesSpec():
                return self._default_privileges(logical, spec)

    def _role(self, logical: str, spec: RoleSpec) -> pulumi.Resource:
        password = None
        if spec.login:
            password = self._verifiers[spec.name].apply(
                lambda v, r=spec.name: require_verifier(r, v)
            )
        role = postgresql.Role(
            logical,
            name=spec.name,
            login=spec.login,
            password=password,
            superuser=False,
            create_database=spec.create_database,
            create_role=spec.create_role,
            inherit=True,
            replication=False,
            bypass_row_level_security=False,
            roles=list(spec.member_of) or None,
            opts=self._opts(*(self.roles[g] for g in spec.member_of)),
        )
        self.roles[spec.name] = role
        return role

    def _database(self, logical: str, spec: DatabaseSpec) -> pulumi.Resource:
        database = postgresql.Database(
            logical,
            name=spec.name,
            owner=spec.owner,
            template="template0",
            encoding="UTF8",
            allow_connections=True,
            # An owner change (the service login before, the admin now) keeps the objects
            # inside owned by whoever created them.
            alter_object_ownership=False,
            opts=self._opts(self.roles.get(spec.owner), protect=self._protect),
        )
        self.databases[spec.name] = database
        return database

    def _schema(self, logical: str, spec: SchemaSpec) -> pulumi.Resource:
        schema = postgresql.Schema(
            logical,
            name=spec.name,
            database=spec.database,
            owner=spec.owner,
            drop_cascade=False,
            opts=self._opts(
                self.databases[spec.database], self.roles[spec.owner], protect=self._protect
            ),
        )
        self.schemas[(spec.database, spec.name)] = schema
        return schema

    def _grant(self, logical: str, spec: GrantSpec) -> pulumi.Resource:
        schema = self.schemas.get((spec.database, spec.schema or ""))
        return postgresql.Grant(
            logical,
            role=spec.role,
            database=spec.database,
            object_type=spec.object_type,
            schema=spec.schema,
            privileges=list(spec.privileges),
            opts=self._opts(
                self.databases[spec.database],
                self.roles.get(spec.role),
                schema,
                delete_before_replace=True,
            ),
        )

    def _default_privileges(self, logical: str, spec: DefaultPrivilegesSpec) -> pulumi.Resource:
        return postgresql.DefaultPrivileges(
            logical,
            role=spec.role,
            owner=spec.owner,
            database=spec.database,
            schema=spec.schema,
            object_type=spec.object_type,
            privileges=list(spec.privileges),
            opts=self._opts(
                self.roles[spec.role],
                self.roles[spec.owner],
                self.schemas[(spec.database, spec.schema)],
                delete_before_replace=True,
            ),
        )
