"""What consumers require of PostgreSQL, folded into the access model the server serves.

The stack's `postgres.access` section holds governance: the warehouse, its schemas and
what each group may do there. Services add what they need through the contracts
(`components/contracts.py`): a `DatabaseNeed` becomes a database with its own owner
login, a `LoginNeed` a service login in governance groups. A service that does not exist
in the stack gets nothing: no database waits for a consumer that never comes.
"""

from __future__ import annotations

from collections.abc import Sequence

from components.contracts import Requirements
from components.postgres.access import AccessSettings, DatabaseSettings, GroupName, LoginSettings


def effective_access(
    access: AccessSettings, requirements: Sequence[Requirements]
) -> AccessSettings:
    """`access` plus a database for every `DatabaseNeed` and a login for every `LoginNeed`.

    A need already declared in config is served by that declaration. Raises ValueError
    for a login need in a group that governance does not define.
    """
    databases = list(access.databases)
    logins = list(access.logins)
    for needs in requirements:
        for database in needs.databases:
            if all(d.name != database.database for d in databases):
                databases.append(DatabaseSettings(name=database.database))
        for login in needs.logins:
            if any(existing.name == login.login for existing in logins):
                continue
            unknown = [g for g in login.member_of if g not in {n.value for n in GroupName}]
            if unknown:
                raise ValueError(
                    f"{needs.consumer} needs login {login.login!r} in unknown groups {unknown}"
                )
            logins.append(
                LoginSettings(
                    name=login.login, member_of=tuple(GroupName(g) for g in login.member_of)
                )
            )
    return AccessSettings(databases=tuple(databases), groups=access.groups, logins=tuple(logins))


def served(requirements: Sequence[Requirements]) -> list[Requirements]:
    """The requirements a database producer serves (those naming a database or login)."""
    return [r for r in requirements if r.needs_database]
