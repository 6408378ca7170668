"""Marquez's files and wiring, rendered from `MarquezSettings` by pure functions (no I/O).

- `marquez_yml`: the API's `marquez.yml` (application connector 5000, admin connector 5001
  with `/healthcheck`, PostgreSQL over JDBC, Flyway migrations on start with `clean`
  disabled, `dbRetention`, console logging, search off, classification tags). It holds no
  secret: `db.password` is the placeholder `${POSTGRES_PASSWORD}`, which Marquez's
  Dropwizard `EnvironmentVariableSubstitutor` fills from the environment at start.
- `api_start_script`: the API container's command. It reads the password from the mounted
  secret FILE into `POSTGRES_PASSWORD` (refusing a missing, empty or YAML-unsafe one: the
  substitutor leaves an unset variable as the literal text, and substitutes into the YAML
  text before parsing), points `MARQUEZ_CONFIG` at the rendered file and execs the image's
  own `/usr/src/app/entrypoint.sh` (which runs `java -jar marquez-*.jar server
  $MARQUEZ_CONFIG` from `/usr/src/app`). The password never enters a pod spec, a
  ConfigMap or a render.
- `web_env`: the web UI's environment (`MARQUEZ_HOST`/`MARQUEZ_PORT` of the API it proxies
  `/api/v1` to, `WEB_PORT`); nothing secret.
- `openlineage_client_env`: what a producer (a Dagster code location) needs to post to
  Marquez with the `openlineage-python` client: `OPENLINEAGE_URL`, `OPENLINEAGE_ENDPOINT`,
  `OPENLINEAGE_NAMESPACE`.
- `trino_openlineage_properties`: Trino's OpenLineage event listener file (`event-listener.
  name=openlineage`, HTTP transport to Marquez's lineage endpoint, the stack's job
  namespace); its COMPLETE events carry `columnLineage` for INSERT ... SELECT and CTAS.

Upstream: Marquez 0.51.1 `marquez.example.yml`, `docker/entrypoint.sh`, `Dockerfile`,
`web/setupProxy.js`, `MarquezApp` (substitutor with undefined variables left as they are);
Dropwizard configuration reference; Trino "OpenLineage event listener" (config keys checked
against the 476 plugin's `@Config` annotations and the current source, which 483 follows).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import javaproperties
import yaml

from components.common import DataClassification
from components.marquez.settings import MarquezSettings

API_PORT = 5000
ADMIN_PORT = 5001
WEB_PORT = 3000
HEALTH_PATH = "/healthcheck"  # API: on ADMIN_PORT; web: on WEB_PORT
LINEAGE_ENDPOINT = "/api/v1/lineage"  # OpenLineage RunEvents in (POST, 201), lineage out (GET)
APP_DIR = "/usr/src/app"  # the image's WORKDIR: the jar and entrypoint.sh live here
ENTRYPOINT = f"{APP_DIR}/entrypoint.sh"
CONFIG_FILE = "/etc/marquez/marquez.yml"
SECRET_DIR = "/var/run/secrets/marquez"
PASSWORD_FILE = f"{SECRET_DIR}/postgres-password"
DATABASE_CA_FILE = f"{SECRET_DIR}/postgres-ca.crt"
PASSWORD_VARIABLE = "POSTGRES_PASSWORD"
FLYWAY_CONNECT_RETRIES = 10  # the database may start after the API; Flyway waits ~1 s apart

SslMode = Literal["disable", "require", "verify-ca", "verify-full"]


@dataclass(frozen=True, kw_only=True)
class PostgresEndpoint:
    """Where Marquez's database is and how the JDBC driver connects (no password here).

    `sslrootcert` is a path in the container (a mounted CA bundle), needed by the
    `verify-*` modes.
    """

    host: str
    port: int = 5432
    database: str = "marquez"
    user: str = "marquez"
    sslmode: SslMode = "verify-full"
    sslrootcert: str | None = None

    def jdbc_url(self) -> str:
        """`jdbc:postgresql://host:port/database?sslmode=...` (PgJDBC connection parameters)."""
        if self.sslmode.startswith("verify") and not self.sslrootcert:
            raise ValueError(f"sslmode {self.sslmode!r} needs sslrootcert (the CA bundle path)")
        query = f"sslmode={self.sslmode}"
        if self.sslrootcert:
            query += f"&sslrootcert={self.sslrootcert}"
        return f"jdbc:postgresql://{self.host}:{self.port}/{self.database}?{query}"


def marquez_document(settings: MarquezSettings, db: PostgresEndpoint) -> dict[str, Any]:
    """`marquez.yml` as a mapping (see `marquez_yml`)."""
    retention = settings.retention
    return {
        "server": {
            "applicationConnectors": [{"type": "http", "port": API_PORT}],
            "adminConnectors": [{"type": "http", "port": ADMIN_PORT}],
        },
        "db": {
            "driverClass": "org.postgresql.Driver",
            "url": db.jdbc_url(),
            "user": db.user,
            "password": "${" + PASSWORD_VARIABLE + "}",
        },
        "migrateOnStartup": settings.migrate_on_startup,
        # `clean` drops every object in the schema: never reachable from a config mistake.
        "flyway": {"cleanDisabled": True, "connectRetries": FLYWAY_CONNECT_RETRIES},
        "dbRetention": {
            "frequencyMins": retention.frequency_mins,
            "numberOfRowsPerBatch": retention.number_of_rows_per_batch,
            "retentionDays": retention.retention_days,
        },
        "graphql": {"enabled": settings.graphql},
        "search": {"enabled": False},  # no OpenSearch: the UI's search uses the database
        "logging": {"level": settings.log_level.value, "appenders": [{"type": "console"}]},
        # The platform's data classifications, so datasets can be tagged in the same words.
        "tags": [
            {"name": c.value.upper(), "description": f"data classification: {c.value}"}
            for c in DataClassification
        ],
    }


def marquez_yml(settings: MarquezSettings, db: PostgresEndpoint) -> str:
    """The API's `marquez.yml` (deterministic; holds no secret)."""
    return yaml.safe_dump(marquez_document(settings, db), sort_keys=False)


def api_start_script(
    *,
    password_file: str = PASSWORD_FILE,
    config_file: str = CONFIG_FILE,
    app_dir: str = APP_DIR,
    entrypoint: str = ENTRYPOINT,
) -> list[str]:
    """`sh -c` that exports the password from its secret file and execs the image's entrypoint.

    Exits 1 with a message naming the file when it is missing or empty, or when the value
    holds characters other than `A-Za-z0-9._~-` (it is substituted into YAML text: a `#`,
    quote or `: ` would change the document). The platform's generated passwords are
    alphanumeric.
    """
    file, var = shlex.quote(password_file), PASSWORD_VARIABLE
    script = "; ".join(
        [
            "set -eu",
            f'[ -s {file} ] || {{ echo "marquez: password file {password_file} is missing '
            f'or empty" >&2; exit 1; }}',
            f'{var}="$(cat {file})"',
            f'case "${var}" in *[!A-Za-z0-9._~-]*) echo "marquez: password in '
            f'{password_file} holds characters unsafe in marquez.yml" >&2; exit 1;; esac',
            f"export {var}",
            f"export MARQUEZ_CONFIG={shlex.quote(config_file)}",
            f"cd {shlex.quote(app_dir)}",
            f"exec {shlex.quote(entrypoint)}",
        ]
    )
    return ["sh", "-c", script]


def web_env(*, api_host: str, api_port: int = API_PORT, web_port: int = WEB_PORT) -> dict[str, str]:
    """The web UI's environment: the API it proxies `/api/v1` and `/api/v2beta` to."""
    return {"MARQUEZ_HOST": api_host, "MARQUEZ_PORT": str(api_port), "WEB_PORT": str(web_port)}


def _base_url(url: str, what: str) -> str:
    """`url` as `scheme://host:port`, refusing a path, query, or missing port."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.port is None:
        raise ValueError(f"{what} {url!r}: expected http(s)://host:port")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError(f"{what} {url!r}: no path allowed (the endpoint is set separately)")
    return f"{parts.scheme}://{parts.netloc}"


def openlineage_client_env(*, marquez_url: str, namespace: str) -> dict[str, str]:
    """Environment that makes `openlineage.client.OpenLineageClient()` post to Marquez.

    `marquez_url` is `http(s)://host:port` of the API; `namespace` the stack's job namespace
    (`MarquezSettings.job_namespace`), read by integrations such as openlineage-dagster.
    """
    return {
        "OPENLINEAGE_URL": _base_url(marquez_url, "marquez url"),
        "OPENLINEAGE_ENDPOINT": LINEAGE_ENDPOINT.lstrip("/"),
        "OPENLINEAGE_NAMESPACE": namespace,
    }


def trino_openlineage_properties(
    *, trino_uri: str, marquez_url: str, namespace: str
) -> dict[str, str]:
    """Trino's OpenLineage event listener properties (a file listed in
    `event-listener.config-files`).

    `trino_uri` is the coordinator's `http(s)://host:port` (Trino refuses to start without
    scheme, host and port; it names the datasets' namespace `trino://host:port`);
    `marquez_url` the API's `http(s)://host:port` (Trino refuses a path in it when an
    endpoint is set); `namespace` the stack's job namespace. Query types stay Trino's
    default (DELETE, INSERT, MERGE, UPDATE, ALTER_TABLE_EXECUTE; CTAS is an INSERT).
    """
    return {
        "event-listener.name": "openlineage",
        "openlineage-event-listener.trino.uri": _base_url(trino_uri, "trino uri"),
        "openlineage-event-listener.transport.type": "HTTP",
        "openlineage-event-listener.transport.url": _base_url(marquez_url, "marquez url"),
        "openlineage-event-listener.transport.endpoint": LINEAGE_ENDPOINT,
        "openlineage-event-listener.namespace": namespace,
    }


def trino_openlineage_file(*, trino_uri: str, marquez_url: str, namespace: str) -> str:
    """`trino_openlineage_properties` as a properties file (sorted, no timestamp)."""
    properties = trino_openlineage_properties(
        trino_uri=trino_uri, marquez_url=marquez_url, namespace=namespace
    )
    return javaproperties.dumps(properties, timestamp=None, sort_keys=True)
