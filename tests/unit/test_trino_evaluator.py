"""The test-only evaluator against the examples of Trino's documentation.

Every JSON document and every expected outcome below is quoted from "File-based access
control", https://trino.io/docs/current/security/file-system-access-control.html
(source: trinodb/trino docs/src/main/sphinx/security/file-system-access-control.md and
the JSON files it includes: query-access.json, session-property-access.json,
user-impersonation.json). The docs' own sentences are quoted above each example.
"""

from __future__ import annotations

import json

from tests.support.trino_evaluator import Identity, Rules

ADMIN = Identity(user="root", roles=frozenset({"admin"}))
ALICE = Identity(user="alice")
BOB = Identity(user="bob")


# "For example, if you want to allow only the role `admin` to access the `mysql` and the
# `system` catalog, allow users from the `finance` and `human_resources` groups access to
# `postgres` catalog, allow all users to access the `hive` catalog, and deny all other
# access, you can use the following rules:"
CATALOGS_EXAMPLE = json.loads(
    """
{
  "catalogs": [
    {
      "role": "admin",
      "catalog": "(mysql|system)",
      "allow": "all"
    },
    {
      "group": "finance|human_resources",
      "catalog": "postgres",
      "allow": true
    },
    {
      "catalog": "hive",
      "allow": "all"
    },
    {
      "user": "alice",
      "catalog": "postgresql",
      "allow": "read-only"
    },
    {
      "catalog": "system",
      "allow": "none"
    }
  ]
}
"""
)


def test_catalog_rules_example() -> None:
    rules = Rules(CATALOGS_EXAMPLE)
    assert rules.catalog_access(ADMIN, "mysql") == "all"
    assert rules.catalog_access(ADMIN, "system") == "all"
    finance = Identity(user="fred", groups=frozenset({"finance"}))
    assert rules.catalog_access(finance, "postgres") == "all"  # legacy `true` maps to `all`
    assert rules.catalog_access(BOB, "postgres") == "none"
    assert rules.catalog_access(BOB, "hive") == "all"
    assert rules.catalog_access(ALICE, "postgresql") == "read-only"
    assert rules.catalog_access(BOB, "system") == "none"
    assert rules.catalog_access(BOB, "mysql") == "none"  # "deny all other access"


def test_system_catalog_is_open_without_catalog_rules() -> None:
    # "By default, all users have access to the `system` catalog. You can override this
    # behavior by adding a rule."
    assert Rules({}).catalog_access(BOB, "system") == "all"
    assert (
        Rules({"catalogs": [{"catalog": "hive", "allow": "all"}]}).catalog_access(BOB, "system")
        == "all"
    )


def test_verify_configuration_example_blocks_everything() -> None:
    # "To verify the system-access control file is configured properly, set the rules to
    # completely block access to all users of the system:"
    rules = Rules(json.loads('{"catalogs": [{"catalog": "system", "allow": "none"}]}'))
    # "trino> SELECT * FROM system.runtime.nodes; ... Access Denied: Cannot access catalog system"
    assert rules.catalog_access(BOB, "system") == "none"
    assert rules.table(BOB, "system", "runtime", "nodes").privileges == frozenset()
    assert rules.catalog_access(BOB, "hive") == "none"


def test_empty_section_denies_and_absent_section_allows() -> None:
    # "If no rules are provided at all, then access is granted. You can remove access grant
    # by adding a section with an empty set of rules at that particular level"
    assert Rules({"schemas": []}).schema_owner(BOB, "hive", "default") is False
    assert Rules({}).schema_owner(BOB, "hive", "default") is True
    assert Rules({"tables": []}).table(BOB, "hive", "s", "t").privileges == frozenset()
    assert "SELECT" in Rules({}).table(BOB, "hive", "s", "t").privileges


# "For example, to provide ownership of all schemas to role `admin`, treat all users as
# owners of the `default.default` schema and prevent user `guest` from ownership of any
# schema, you can use the following rules:"
SCHEMAS_EXAMPLE = json.loads(
    """
{
  "schemas": [
    {
      "role": "admin",
      "schema": ".*",
      "owner": true
    },
    {
      "user": "guest",
      "owner": false
    },
    {
      "catalog": "default",
      "schema": "default",
      "owner": true
    }
  ]
}
"""
)


def test_schema_rules_example() -> None:
    rules = Rules(SCHEMAS_EXAMPLE)
    assert rules.schema_owner(ADMIN, "hive", "sales") is True
    assert rules.schema_owner(Identity(user="guest"), "default", "default") is False
    assert rules.schema_owner(BOB, "default", "default") is True
    assert rules.schema_owner(BOB, "hive", "sales") is False


# "The example below defines the following table access policy:
# - Role `admin` has all privileges across all tables and schemas
# - User `banned_user` has no privileges
# - All users have `SELECT` privileges on `default.hr.employees`, but the table is
#   filtered to only the row for the current user.
# - All users have `SELECT` privileges on all tables in the `default.default` schema,
#   except for the `address` column which is blocked, and `ssn` which is masked."
TABLES_EXAMPLE = json.loads(
    """
{
  "tables": [
    {
      "role": "admin",
      "privileges": ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP"]
    },
    {
      "user": "banned_user",
      "privileges": []
    },
    {
      "catalog": "default",
      "schema": "hr",
      "table": "employee",
      "privileges": ["SELECT"],
      "filter": "user = current_user",
      "filter_environment": {
        "user": "system_user"
      }
    },
    {
      "catalog": "default",
      "schema": "default",
      "table": ".*",
      "privileges": ["SELECT"],
      "columns" : [
         {
            "name": "address",
            "allow": false
         },
         {
            "name": "SSN",
            "mask": "'XXX-XX-' + substring(credit_card, -4)",
            "mask_environment": {
              "user": "system_user"
            }
         }
      ]
    }
  ]
}
"""
)


def test_table_rules_example() -> None:
    rules = Rules(TABLES_EXAMPLE)
    admin = rules.table(ADMIN, "default", "hr", "employee")
    assert admin.privileges == {"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP"}
    assert admin.filter is None  # the admin rule matches first: no filter, no masks
    banned = rules.table(Identity(user="banned_user"), "default", "default", "orders")
    assert banned.privileges == frozenset()
    employee = rules.table(BOB, "default", "hr", "employee")
    assert employee.privileges == {"SELECT"}
    assert employee.filter == "user = current_user"
    orders = rules.table(BOB, "default", "default", "orders")
    assert orders.privileges == {"SELECT"}
    assert orders.denied_columns == {"address"}
    assert orders.masks == {"SSN": "'XXX-XX-' + substring(credit_card, -4)"}
    assert rules.table(BOB, "default", "sales", "orders").privileges == frozenset()


def test_read_only_catalog_leaves_only_reading() -> None:
    # "Setting this value to `read-only` has the same behavior as the `read-only` system
    # access control plugin." (the catalog rules restrict what table rules grant)
    rules = Rules({**CATALOGS_EXAMPLE, **TABLES_EXAMPLE})
    assert rules.table(ALICE, "postgresql", "default", "t").privileges == frozenset()
    granted = Rules(
        {
            "catalogs": [{"user": "alice", "catalog": "postgresql", "allow": "read-only"}],
            "tables": [{"privileges": ["SELECT", "INSERT"]}],
        }
    )
    assert granted.table(ALICE, "postgresql", "public", "t").privileges == {"SELECT"}


# query-access.json: "allow the role `admin` full query access, allow the user `alice` to
# execute and kill queries, ... allow any user to execute queries, and deny all other access"
QUERIES_EXAMPLE = json.loads(
    """
{
  "queries": [
    {
      "user": "admin",
      "allow": ["execute", "kill", "view"]
    },
    {
      "user": "alice",
      "allow": ["execute", "kill"]
    },
    {
      "allow": ["execute"]
    }
  ]
}
"""
)


def test_query_rules_example() -> None:
    rules = Rules(QUERIES_EXAMPLE)
    admin = Identity(user="admin")
    assert rules.query(admin, "view", owner="bob") and rules.query(admin, "kill", owner="bob")
    assert rules.query(ALICE, "execute") and rules.query(ALICE, "kill", owner="bob")
    assert not rules.query(ALICE, "view", owner="bob")
    assert rules.query(BOB, "execute")
    assert not rules.query(BOB, "kill", owner="alice")
    # "Users always have permission to view or kill their own queries."
    assert rules.query(BOB, "kill", owner="bob") and rules.query(BOB, "view", owner="bob")


def test_query_owner_rules_never_match_execution() -> None:
    # "A rule that includes `queryOwner` may not include the `execute` access mode.
    # Queries are only owned by a user once their execution has begun."
    rules = Rules(
        {
            "queries": [
                {"group": "contractors", "queryOwner": "alice|dave", "allow": ["view"]},
                {"allow": []},
            ]
        }
    )
    contractor = Identity(user="carl", groups=frozenset({"contractors"}))
    assert rules.query(contractor, "view", owner="dave")
    assert not rules.query(contractor, "view", owner="bob")
    assert not rules.query(contractor, "execute")


# session-property-access.json: "Role `admin` can set all session property; User
# `banned_user` can not set any session properties; All users can set the
# `resource_overcommit` system session property, and the `bucket_execution_enabled`
# session property in the `hive` catalog."
SESSION_EXAMPLE = json.loads(
    """
{
    "system_session_properties": [
        {
            "role": "admin",
            "allow": true
        },
        {
            "user": "banned_user",
            "allow": false
        },
        {
            "property": "resource_overcommit",
            "allow": true
        }
    ],
    "catalog_session_properties": [
        {
            "role": "admin",
            "allow": true
        },
        {
            "user": "banned_user",
            "allow": false
        },
        {
            "catalog": "hive",
            "property": "bucket_execution_enabled",
            "allow": true
        }
    ]
}
"""
)


def test_session_property_rules_example() -> None:
    rules = Rules(SESSION_EXAMPLE)
    banned = Identity(user="banned_user")
    assert rules.system_session_property(ADMIN, "query_max_run_time")
    assert not rules.system_session_property(banned, "resource_overcommit")
    assert rules.system_session_property(BOB, "resource_overcommit")
    assert not rules.system_session_property(BOB, "query_max_run_time")
    assert rules.catalog_session_property(ADMIN, "iceberg", "compression_codec")
    assert rules.catalog_session_property(BOB, "hive", "bucket_execution_enabled")
    assert not rules.catalog_session_property(BOB, "iceberg", "bucket_execution_enabled")
    assert not rules.catalog_session_property(banned, "hive", "bucket_execution_enabled")
    # "If no rules are specified, all users are allowed set any session property."
    assert Rules({}).system_session_property(BOB, "anything")


# user-impersonation.json: "allows the `admin` role, to impersonate any user, except for
# `bob`. It also allows any user to impersonate the `test` user. It also allows a user in
# the form `team_backend` to impersonate the `team_backend_sandbox` user, but not
# arbitrary users"
IMPERSONATION_EXAMPLE = json.loads(
    """
{
    "impersonation": [
        {
            "original_role": "admin",
            "new_user": "bob",
            "allow": false
        },
        {
            "original_role": "admin",
            "new_user": ".*"
        },
        {
            "original_user": ".*",
            "new_user": "test"
        },
        {
            "original_user": "team_(.*)",
            "new_user": "team_$1_sandbox",
            "allow": true
        }
    ]
}
"""
)


def test_impersonation_rules_example() -> None:
    rules = Rules(IMPERSONATION_EXAMPLE)
    assert not rules.impersonation(ADMIN, "bob")
    assert rules.impersonation(ADMIN, "alice")
    assert rules.impersonation(BOB, "test")
    assert not rules.impersonation(BOB, "alice")
    backend = Identity(user="team_backend")
    assert rules.impersonation(backend, "team_backend_sandbox")
    assert not rules.impersonation(backend, "team_frontend_sandbox")
    # "If neither impersonation nor principal rules are defined, impersonation is not allowed."
    assert not Rules({}).impersonation(BOB, "alice")


def test_group_rules_need_a_matching_group() -> None:
    # "For group names, a rule can be applied if at least one group name of this user
    # matches the `group` regular expression."
    rules = Rules(CATALOGS_EXAMPLE)
    both = Identity(user="hana", groups=frozenset({"sales", "human_resources"}))
    assert rules.catalog_access(both, "postgres") == "all"
    assert rules.catalog_access(Identity(user="nogroups"), "postgres") == "none"
