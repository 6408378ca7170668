"""The PostgreSQL component under mocks: resources, settings per stack, secrets, protection."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from components.postgres import PostgresSettings
from components.postgres.plan import GrantSpec, RoleSpec, access_plan
from components.postgres.scram import (
    is_scram_verifier,
    require_verifier,
    scram_salt,
    scram_sha256_verifier,
)
from components.postgres.scripts import start_script
from components.postgres.server_config import ServerPaths
from components.runtime.stack import Tier
from components.tier_defaults import merged
from infra.config import ConfigError, parse_config
from ops.render import Render
from tests.conftest import STACKS, cached_render, docker_files
from tests.unit.test_config import raw_config

PG = "postgresql:index/"


def settings(stack: str) -> PostgresSettings:
    """The stack's PostgreSQL settings as the program sees them."""
    return parse_config(stack, raw_config(stack)).postgres


def config_files(render: Render) -> dict[str, str]:
    """The rendered postgresql.conf / pg_hba.conf of the server (ConfigMap or Docker upload)."""
    files: dict[str, str] = {}
    for resource in render.of_type("kubernetes:core/v1:ConfigMap"):
        if resource["name"].endswith("postgres-server-config"):
            files.update(resource["inputs"]["data"])
    if render.stack == "dev":
        for path, content in docker_files(render, "dp-dev-postgres-server").items():
            if path.startswith("/etc/postgresql/conf/"):
                files[path.rsplit("/", 1)[1]] = content
    return {re.sub(r"^.*?(postgresql\.conf|pg_hba\.conf)$", r"\1", k): v for k, v in files.items()}


def conf_values(text: str) -> dict[str, str]:
    """`key = value` lines of a postgresql.conf."""
    values = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("'")
    return values


@pytest.mark.parametrize("stack", STACKS)
def test_component_and_server_workload(stack: str) -> None:
    render = cached_render(stack)
    [component] = render.of_type("dataplatform:storage:Postgres")
    assert component["name"] == f"dp-{stack}-postgres"
    kind = (
        "docker:index/container:Container" if stack == "dev" else "kubernetes:apps/v1:StatefulSet"
    )
    servers = [r for r in render.of_type(kind) if r["name"] == f"dp-{stack}-postgres-server"]
    assert len(servers) == 1
    assert servers[0]["parent"] == component["urn"]
    text = json.dumps(servers[0]["inputs"])
    image = settings(stack).image
    assert image.startswith("ghcr.io/cloudnative-pg/postgresql:15.")  # the major the tests run
    if stack == "dev":
        pulled = {
            r["inputs"]["name"] for r in render.of_type("docker:index/remoteImage:RemoteImage")
        }
        assert image in pulled
    else:
        assert image in text
    [provider] = render.of_type("pulumi:providers:postgresql")
    assert provider["parent"] == component["urn"]
    assert provider["inputs"]["password"] == "[secret]"
    assert provider["inputs"]["sslmode"] == ("disable" if stack == "dev" else "require")
    # The provider connects lazily; what it manages waits for the server (test_control_plane).
    assert servers[0]["urn"] not in provider["dependencies"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_postgresql_resource_uses_the_provider_and_is_parented(stack: str) -> None:
    render = cached_render(stack)
    [component] = render.of_type("dataplatform:storage:Postgres")
    [provider] = render.of_type("pulumi:providers:postgresql")
    managed = [r for r in render.resources if r["type"].startswith(PG)]
    assert managed
    for resource in managed:
        assert resource["parent"] == component["urn"]
        assert resource["provider"] == provider["urn"]


@pytest.mark.parametrize("stack", STACKS)
def test_databases_roles_and_extension(stack: str) -> None:
    render = cached_render(stack)
    databases = {r["inputs"]["name"]: r for r in render.of_type(f"{PG}database:Database")}
    # The governed warehouse, and the databases its running consumers require (Trino's
    # Iceberg catalog, Marquez's and Dagster's own); none for services the stack does not run.
    assert set(databases) == {"warehouse", "iceberg", "marquez", "dagster"}
    role_urns = {r["urn"] for r in render.of_type(f"{PG}role:Role")}
    for database in databases.values():
        # Owned by the admin, so created side by side with the logins, not after them.
        assert database["inputs"]["owner"] == settings(stack).admin_user
        assert database["inputs"]["alterObjectOwnership"] is False
        assert not role_urns & {*database["dependencies"], *database["options"]["depends_on"]}
        assert database["options"]["protect"] is (stack == "prod")
    roles = {r["inputs"]["name"]: r["inputs"] for r in render.of_type(f"{PG}role:Role")}
    assert {"analyst", "engineer", "steward", "platform_admin"} <= set(roles)
    for name, role in roles.items():
        assert role["superuser"] is False, name
        assert role.get("login", False) == (
            name not in {"analyst", "engineer", "steward", "platform_admin"}
        )
        if role.get("login"):
            assert role["password"] == "[secret]"
    assert roles["trino"]["roles"] == ["engineer"]
    extensions = render.of_type(f"{PG}extension:Extension")
    assert {e["inputs"]["database"] for e in extensions} == set(databases)
    assert {e["inputs"]["name"] for e in extensions} == {"pgaudit"}


@pytest.mark.parametrize("stack", STACKS)
def test_grants_follow_config_and_replace_delete_first(stack: str) -> None:
    render = cached_render(stack)
    grants = render.of_type(f"{PG}grant:Grant")
    assert grants and all(g["options"]["delete_before_replace"] for g in grants)
    public = [
        g["inputs"]
        for g in grants
        if g["inputs"]["role"] == "public" and g["inputs"]["objectType"] == "schema"
    ]
    assert public and all(g["privileges"] == [] for g in public)
    assert not [g for g in grants if g["inputs"]["role"] == "public" and g["inputs"]["privileges"]]
    analyst_tables = {
        g["inputs"]["schema"]: g["inputs"]["privileges"]
        for g in grants
        if g["inputs"]["role"] == "analyst" and g["inputs"]["objectType"] == "table"
    }
    assert analyst_tables == {"curated": ["SELECT"]}
    defaults = render.of_type(f"{PG}defaultPrivileges:DefaultPrivileges")
    assert {(d["inputs"]["role"], d["inputs"]["schema"]) for d in defaults} >= {
        ("analyst", "curated"),
        ("engineer", "staging"),
        ("steward", "audit"),
    }
    schemas = render.of_type(f"{PG}schema:Schema")
    assert all(s["options"]["protect"] is (stack == "prod") for s in schemas)


@pytest.mark.parametrize("stack", STACKS)
def test_each_service_login_works_in_its_own_database_without_owning_it(stack: str) -> None:
    render = cached_render(stack)
    grants = {
        (g["inputs"]["role"], g["inputs"]["objectType"], g["inputs"].get("schema")): g
        for g in render.of_type(f"{PG}grant:Grant")
        if g["inputs"]["role"] == g["inputs"]["database"]
    }
    names = {r["urn"]: r["name"].removeprefix(f"dp-{stack}-") for r in render.resources}
    for database in ("warehouse", "iceberg"):
        on_database = grants[(database, "database", None)]
        assert sorted(on_database["inputs"]["privileges"]) == ["CONNECT", "CREATE", "TEMPORARY"]
        on_public = grants[(database, "schema", "public")]
        assert sorted(on_public["inputs"]["privileges"]) == ["CREATE", "USAGE"]
        for grant in (on_database, on_public):
            assert grant["options"]["delete_before_replace"] is True
            waits = {names[u] for u in grant["options"]["depends_on"]}
            assert {f"postgres-role-{database}", f"postgres-db-{database}"} <= waits
    schemas = render.of_type(f"{PG}schema:Schema")
    assert {(s["inputs"]["database"], s["inputs"]["owner"]) for s in schemas} == {
        ("warehouse", "warehouse")
    }


def test_plan_sql_gives_the_login_its_database_and_public_schema() -> None:
    plan = access_plan(settings("dev").access, admin="pgadmin")
    verifiers = {login: scram_sha256_verifier("pw", scram_salt(login)) for login in plan.logins}
    sql: dict[str, list[str]] = {}
    for database, batch in plan.sql(verifiers):
        sql.setdefault(database, []).extend(batch)
    assert (
        'CREATE DATABASE "warehouse" WITH OWNER "pgadmin" TEMPLATE template0 ENCODING \'UTF8\''
        in sql["postgres"]
    )
    assert (
        'GRANT CONNECT, CREATE, TEMPORARY ON DATABASE "warehouse" TO "warehouse"'
        in sql["warehouse"]
    )
    assert 'GRANT CREATE, USAGE ON SCHEMA "public" TO "warehouse"' in sql["warehouse"]
    assert 'CREATE SCHEMA "curated" AUTHORIZATION "warehouse"' in sql["warehouse"]


@pytest.mark.parametrize("stack", STACKS)
def test_server_settings_per_stack(stack: str) -> None:
    files = config_files(cached_render(stack))
    conf, hba = conf_values(files["postgresql.conf"]), files["pg_hba.conf"]
    wanted = settings(stack)
    assert "pgaudit" in conf["shared_preload_libraries"]
    assert conf["pgaudit.log"] == ", ".join(c.value for c in wanted.audit.classes)
    assert conf["password_encryption"] == "scram-sha-256"
    assert conf["log_connections"] == conf["log_disconnections"] == "on"
    assert conf["pgaudit.log_relation"] == ("on" if wanted.audit.log_relation else "off")
    assert conf["pgaudit.log_parameter"] == ("on" if wanted.audit.log_parameter else "off")
    for escape in ("%m", "%u", "%d", "%a", "%h"):
        assert escape in conf["log_line_prefix"]
    if stack == "dev":
        assert conf["pgaudit.log"] == "ddl, role" and conf["ssl"] == "off"
        assert re.search(r"^host\s", hba, re.M)
    else:
        assert {"ddl", "role", "write"} <= set(conf["pgaudit.log"].split(", "))
        assert conf["ssl"] == "on"
        assert not re.search(r"^host\s", hba, re.M)
        assert re.search(r"^hostssl\s+all\s+all\s+0\.0\.0\.0/0\s+scram-sha-256", hba, re.M)
        assert re.search(r"^hostnossl\s+all\s+all\s+0\.0\.0\.0/0\s+reject", hba, re.M)


def test_prod_server_and_volume_are_protected() -> None:
    render = cached_render("prod")
    [server] = [
        r for r in render.of_type("kubernetes:apps/v1:StatefulSet") if "postgres" in r["name"]
    ]
    assert server["options"]["protect"] is True
    claims = server["inputs"]["spec"]["volumeClaimTemplates"]
    assert claims[0]["spec"]["resources"]["requests"]["storage"] == "200Gi"
    dev = cached_render("dev")
    volumes = [r for r in dev.of_type("docker:index/volume:Volume") if "postgres" in r["name"]]
    assert volumes and not any(v["options"]["protect"] for v in volumes)


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_in_plain_text(stack: str) -> None:
    render = cached_render(stack)
    text = render.to_json()
    passwords = [r["name"] for r in render.of_type("random:index/randomPassword:RandomPassword")]
    assert any("postgres-superuser" in name for name in passwords)
    for name in passwords:
        assert f"mock-{name}" not in text, name
    assert "mock-private-key" not in text


@pytest.mark.parametrize("stack", STACKS)
def test_render_is_deterministic(stack: str) -> None:
    from ops.render import render_stack

    assert render_stack(stack).to_json() == cached_render(stack).to_json()


def test_each_required_database_gets_its_own_owner_login() -> None:
    from components.contracts import DatabaseNeed, LoginNeed, Requirements
    from components.postgres.consumers import effective_access

    needs = Requirements(
        consumer="x",
        databases=(DatabaseNeed(database="dagster"),),
        logins=(LoginNeed(login="reader", member_of=("analyst",)),),
    )
    plan = access_plan(effective_access(settings("dev").access, [needs]), admin="postgres")
    assert {"warehouse", "dagster", "reader"} <= set(plan.logins)
    assert "dagster" not in access_plan(settings("dev").access, admin="postgres").logins


def test_plan_sql_mirrors_the_declared_grants() -> None:
    from components.postgres.consumers import effective_access
    from infra.services import enabled_settings, stack_requirements
    from ops.render import load_stack_config

    consumers = stack_requirements(enabled_settings(load_stack_config("prod")))
    plan = access_plan(
        effective_access(settings("prod").access, consumers), admin=settings("prod").admin_user
    )
    verifiers = {login: scram_sha256_verifier("pw", scram_salt(login)) for login in plan.logins}
    sql = "\n".join(s for _, batch in plan.sql(verifiers) for s in batch)
    assert 'REVOKE ALL ON SCHEMA "public" FROM PUBLIC' in sql
    assert "TO PUBLIC" not in sql
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "curated" TO "analyst"' in sql
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "warehouse" IN SCHEMA "curated" GRANT SELECT' in sql
    assert "SUPERUSER " not in sql.replace("NOSUPERUSER", "")
    render = cached_render("prod")
    declared = {
        (
            g["inputs"]["role"],
            g["inputs"]["database"],
            g["inputs"]["objectType"],
            g["inputs"].get("schema"),
        )
        for g in render.of_type(f"{PG}grant:Grant")
    }
    planned = {(g.role, g.database, g.object_type, g.schema) for g in plan.of_type(GrantSpec)}
    assert declared == planned


def test_start_script_initialises_only_an_empty_data_dir() -> None:
    script = start_script(settings("prod"))
    assert 'if [ ! -s "$PGDATA/PG_VERSION" ]' in script
    assert "--pwfile=/etc/postgresql/secrets/superuser-password" in script
    assert "install -m 0600" in script
    assert script.rstrip().endswith("-c config_file=/etc/postgresql/conf/postgresql.conf")
    assert "install -m" not in start_script(settings("dev"))


@pytest.mark.parametrize("stack", STACKS)
def test_start_script_checks_secrets_then_tightens_pgdata(stack: str) -> None:
    """The integration tests run this script; here: its order (secrets first, initdb,
    then chmod 0700 on every start, then exec) and no password from the environment."""
    lines = start_script(settings(stack)).splitlines()
    first_check = next(i for i, x in enumerate(lines) if "superuser-password" in x)
    initdb = next(i for i, x in enumerate(lines) if "initdb" in x)
    chmod = lines.index('chmod 0700 "$PGDATA"')
    assert first_check < initdb < chmod < len(lines) - 1
    assert lines[initdb - 1].startswith("if ") and lines[chmod - 1] == "fi"  # not in the if
    assert lines[-1].startswith("exec postgres")
    single = next(i for i, x in enumerate(lines) if x.startswith("postgres --single "))
    assert chmod < single and lines[single + 1 : single + 3] == [
        "ALTER ROLE \"postgres\" SET log_min_error_statement = 'panic';",
        "SQL",
    ]
    assert set(re.findall(r"\$\{?(\w+)", "\n".join(lines))) == {"PGDATA"}  # no env secret


def test_scram_verifier_is_deterministic_and_refuses_cleartext() -> None:
    salt = scram_salt("seed")
    verifier = scram_sha256_verifier("correct horse", salt)
    assert verifier == scram_sha256_verifier("correct horse", salt)
    assert verifier != scram_sha256_verifier("correct horse", scram_salt("other seed"))
    assert verifier.startswith("SCRAM-SHA-256$4096:") and "correct horse" not in verifier
    assert is_scram_verifier(verifier) and not is_scram_verifier("correct horse")
    with pytest.raises(ValueError, match="role 'app': password must be a SCRAM") as error:
        require_verifier("app", "correct horse")
    assert "correct horse" not in str(error.value)
    with pytest.raises(ValueError, match="must be a SCRAM"):
        RoleSpec(name="app", login=True).sql({"app": "cleartext"})
    with pytest.raises(ValueError, match="ASCII"):
        scram_sha256_verifier("pässwort", salt)


@pytest.mark.parametrize("stack", STACKS)
def test_login_passwords_are_declared_as_salted_verifiers(stack: str) -> None:
    """Each login's Role.password is computed from its own salt seed (the verifier), not
    passed through from the password resource alone."""
    render = cached_render(stack)
    seeds = {
        r["urn"]: r["name"]
        for r in render.of_type("random:index/randomPassword:RandomPassword")
        if r["name"].endswith("-scram-salt")
    }
    for role in render.of_type(f"{PG}role:Role"):
        if not role["inputs"].get("login"):
            continue
        name = role["inputs"]["name"]
        sources = {seeds.get(u) for u in role["property_dependencies"].get("password", [])}
        assert f"dp-{stack}-postgres-{name}-scram-salt" in sources, name


@pytest.mark.parametrize("stack", STACKS)
def test_server_log_keeps_statements_and_parameters_out(stack: str) -> None:
    conf = conf_values(config_files(cached_render(stack))["postgresql.conf"])
    assert conf["log_statement"] == "none"
    assert conf["log_parameter_max_length_on_error"] == "0"
    logged = settings(stack).audit.log_parameter
    assert conf["log_parameter_max_length"] == ("-1" if logged else "0")


def test_tls_needs_certificate_paths() -> None:
    with pytest.raises(ValueError, match="no certificate"):
        settings("prod").postgresql_conf(ServerPaths(hba_file="/x", socket_dir="/y"))


# --- bad config fails in parse_config, naming the key path -------------------------------


def _bad(stack: str, mutate: Any) -> str:
    raw = copy.deepcopy(raw_config(stack))
    mutate(raw)
    with pytest.raises(ConfigError) as error:
        parse_config(stack, raw)
    return str(error.value)


def _spelled_out(raw: dict[str, Any], stack: str) -> dict[str, Any]:
    """`raw` with its postgres section written in full (the tier's defaults included),
    as a stack that overrides a default list must write it; returns that section."""
    defaults = PostgresSettings.tier_defaults(Tier(stack))
    raw["postgres"] = merged(copy.deepcopy(defaults), raw["postgres"])
    return raw["postgres"]


def _bad_in_full(stack: str, mutate: Any) -> str:
    raw = copy.deepcopy(raw_config(stack))
    mutate(_spelled_out(raw, stack))
    with pytest.raises(ConfigError) as error:
        parse_config(stack, raw)
    return str(error.value)


def test_audit_classes_below_the_tier_minimum() -> None:
    message = _bad("prod", lambda raw: raw["postgres"].update(audit={"classes": ["ddl", "role"]}))
    assert "stack 'prod'" in message and "postgres.audit.classes" in message and "write" in message


def test_dev_minimum_is_ddl_and_role() -> None:
    message = _bad("dev", lambda raw: raw["postgres"].update(audit={"classes": ["ddl"]}))
    assert "postgres.audit.classes" in message and "role" in message


def test_unknown_schema_in_a_grant() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["access"]["groups"][0]["grants"][0]["schema"] = "gold"

    message = _bad_in_full("dev", mutate)
    assert "data-platform:postgres.access" in message
    assert "groups[0].grants[0]: unknown schema warehouse.gold" in message


def test_prod_without_tls() -> None:
    message = _bad("prod", lambda raw: raw["postgres"].update(tls={"required": False}))
    assert "postgres.tls.required" in message and "prod requires TLS" in message


def test_analyst_may_not_write() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["access"]["groups"][0]["grants"][0]["access"] = "write"

    assert "analyst may only read curated" in _bad_in_full("test", mutate)


def test_missing_required_database_and_unknown_key() -> None:
    def mutate(raw: dict[str, Any]) -> None:
        raw["access"]["databases"] = [
            d for d in raw["access"]["databases"] if d["name"] != "warehouse"
        ]
        raw["audit"]["logEverything"] = True

    message = _bad_in_full("dev", mutate)
    assert "['warehouse'] are required" in message
    assert "data-platform:postgres.audit.logEverything: unknown key" in message


def test_connection_logging_cannot_be_turned_off() -> None:
    message = _bad("test", lambda raw: raw["postgres"].update(audit={"logConnections": False}))
    assert "data-platform:postgres.audit" in message and "CIS" in message


def test_floating_image_tag_refused() -> None:
    message = _bad(
        "dev", lambda raw: raw["postgres"].update(image="ghcr.io/cloudnative-pg/postgresql:latest")
    )
    assert "data-platform:postgres.image" in message


@pytest.mark.parametrize("stack", STACKS)
def test_server_gets_no_secret_through_its_environment(stack: str) -> None:
    """The superuser password reaches initdb as a secret file (--pwfile), never as env."""
    render = cached_render(stack)
    if stack == "dev":
        [server] = [
            r
            for r in render.of_type("docker:index/container:Container")
            if r["name"] == "dp-dev-postgres-server"
        ]
        names = {e.split("=", 1)[0] for e in server["inputs"].get("envs", [])}
    else:
        [server] = [
            r
            for r in render.of_type("kubernetes:apps/v1:StatefulSet")
            if r["name"] == f"dp-{stack}-postgres-server"
        ]
        [container] = server["inputs"]["spec"]["template"]["spec"]["containers"]
        names = {e["name"] for e in container.get("env", [])}
    assert names == {"PGDATA", "HOME"}
