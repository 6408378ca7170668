"""Stand-in for the Marquez image's entrypoint, as far as its database start goes.

The real `/usr/src/app/entrypoint.sh` runs `java -jar marquez-*.jar server $MARQUEZ_CONFIG`;
`MarquezApp` then reads the file with Dropwizard's `EnvironmentVariableSubstitutor`
(`${VAR}` replaced from the environment in the YAML text before parsing; an undefined
variable is left as written), builds its data source from the `db` block and lets Flyway
migrate. Marquez's jar cannot be fetched here (docs/marquez.md), so this script does the
same reading and logs in with exactly what it read: host, port, database, `sslmode` and
`sslrootcert` (pgjdbc's and libpq's names agree) from the JDBC URL, `user` and `password` from the block. It then does what the first
migrations do as that login (a table, an index, a plpgsql function, a materialized view,
in `public`), drops them, and prints one JSON line: database, user, whether TLS is on.

Exit status 1 with the driver's message on stderr when the login fails.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg2
import psycopg2.extensions
import yaml

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

MIGRATION_PROBE = (
    "CREATE TABLE standin_probe (uuid uuid PRIMARY KEY, name varchar(255) NOT NULL)",
    "CREATE INDEX standin_probe_name ON standin_probe (name)",
    "CREATE FUNCTION standin_probe_fn() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
    "CREATE MATERIALIZED VIEW standin_probe_view AS SELECT name, count(*) FROM standin_probe "
    "GROUP BY name",
    "REFRESH MATERIALIZED VIEW standin_probe_view",
    "DROP MATERIALIZED VIEW standin_probe_view",
    "DROP FUNCTION standin_probe_fn()",
    "DROP TABLE standin_probe",
)


def substituted(text: str, environ: dict[str, str]) -> str:
    """`${VAR}` replaced from `environ`; undefined variables left as written (Dropwizard's
    substitutor with strict mode off, as MarquezApp creates it)."""
    return _VARIABLE.sub(lambda m: environ.get(m.group(1), m.group(0)), text)


def connect(db: dict[str, Any]) -> Any:
    """A connection made from the `db` block exactly: JDBC URL parts, user, password."""
    url = urlsplit(str(db["url"]).removeprefix("jdbc:"))
    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
    verify = {"sslrootcert": query["sslrootcert"]} if "sslrootcert" in query else {}
    dsn = psycopg2.extensions.make_dsn(
        host=url.hostname,
        port=url.port or 5432,
        dbname=url.path.lstrip("/"),
        user=db["user"],
        password=db["password"],
        sslmode=query.get("sslmode", "prefer"),
        connect_timeout=5,
        **verify,
    )
    return psycopg2.connect(dsn)


def main() -> int:
    """Read `$MARQUEZ_CONFIG` (relative to the working directory, like the jar), log in,
    probe the migrations' rights, print the result."""
    document = yaml.safe_load(
        substituted(Path(os.environ["MARQUEZ_CONFIG"]).read_text(), dict(os.environ))
    )
    try:
        conn = connect(document["db"])
    except psycopg2.OperationalError as error:
        print(f"standin: {error}".strip(), file=sys.stderr)
        return 1
    conn.autocommit = True
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT current_database(), current_user, ssl FROM pg_stat_ssl "
            "WHERE pid = pg_backend_pid()"
        )
        database, user, ssl = cur.fetchone()
        for statement in MIGRATION_PROBE:
            cur.execute(statement)
    conn.close()
    print(json.dumps({"database": database, "user": user, "ssl": ssl, "cwd": os.getcwd()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
