"""The shell scripts the server's and the jobs' containers run (`sh -c`).

`start_script` prepares and starts the server in images without an initdb entrypoint
(CloudNativePG's); `sql_job_script` applies a job's statements with psql. Both read
passwords from secret files, never from the environment or a command line. The
integration tests run `start_script` on Debian's server binaries.
"""

from __future__ import annotations

from components.postgres.access import ADMIN_DATABASE
from components.postgres.paths import (
    CONFIG_DIR,
    JOB_PASSWORD_FILE,
    JOB_SQL_FILE,
    KEY_FILE,
    KEY_SOURCE,
    PASSWORD_FILE,
)
from components.postgres.plan import ident
from components.postgres.settings import PostgresSettings


def admin_role_settings(settings: PostgresSettings) -> list[str]:
    """Statements applied to the admin role on every start: its failed statements are not
    echoed to the log (`log_min_error_statement = panic`), so a password typed in clear
    text into a failing CREATE/ALTER ROLE by a person never reaches it. The platform
    itself sends only SCRAM verifiers; pgaudit still audits what the admin runs, and the
    ERROR line (without the statement) is still logged."""
    return [f"ALTER ROLE {ident(settings.admin_user)} SET log_min_error_statement = 'panic';"]


def _require_file(path: str, what: str) -> list[str]:
    """Shell lines that stop the container, naming `path`, unless it exists and holds more
    than whitespace (grep is in every Debian-based image, CNPG's included)."""
    return [
        f"if ! grep -q '[^[:space:]]' \"{path}\" 2>/dev/null; then",
        f'  echo "postgres: {what} {path} is missing or empty; refusing to start" >&2',
        "  exit 1",
        "fi",
    ]


def start_script(settings: PostgresSettings) -> str:
    """The container's entrypoint (`sh -c`), for images without an initdb entrypoint (CNPG).

    1. Refuse to start, naming the file, when a secret file it needs is absent or empty
       (no fallback to a default or empty password; the image has none either).
    2. `initdb` an empty data directory, the superuser password read from the secret file
       (`--pwfile`), never from the environment.
    3. `chmod 0700 "$PGDATA"` on every start: with pod `fsGroup`, kubelet makes the volume
       group-writable (2770) on each mount and PostgreSQL refuses such a data directory
       ("invalid permissions", postmaster.c checkDataDir). The setgid bit stays; harmless.
    4. Copy the TLS key into the socket tmpfs as 0600, owned by the server's uid: secret
       volumes deliver it with the volume's mode and owner (Kubernetes projected 0440,
       Docker uploads 0444), and PostgreSQL refuses a key that others may read
       (be-secure-common.c: at most 0600 if the server owns it, 0640 if root does).
    5. Apply `admin_role_settings` in single-user mode (idempotent, before any client
       can connect), then `exec postgres` with the rendered configuration.
    """
    lines = ["set -eu", *_require_file(PASSWORD_FILE, "superuser password file")]
    if settings.tls.required:
        lines += _require_file(KEY_SOURCE, "TLS key file")  # the server checks the cert
    lines += [
        'if [ ! -s "$PGDATA/PG_VERSION" ]; then',
        f'  initdb -D "$PGDATA" --username={settings.admin_user} --pwfile={PASSWORD_FILE}'
        " --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --no-locale"
        " --data-checksums",
        "fi",
        'chmod 0700 "$PGDATA"',
    ]
    if settings.tls.required:
        lines.append(f"install -m 0600 {KEY_SOURCE} {KEY_FILE}")
    options = f'-D "$PGDATA" -c config_file={CONFIG_DIR}/postgresql.conf'
    lines += [
        f"postgres --single {options} {ADMIN_DATABASE} >/dev/null <<'SQL'",
        *admin_role_settings(settings),
        "SQL",
        f"exec postgres {options}",
    ]
    return "\n".join(lines) + "\n"


def sql_job_script(conninfo: str) -> str:
    """A job's script: psql applies `JOB_SQL_FILE` over `conninfo` (a libpq connection
    string without password), stopping at the first error; the password reaches psql
    from `JOB_PASSWORD_FILE` through the process env only."""
    lines = [
        "set -eu",
        f'PGPASSWORD="$(cat {JOB_PASSWORD_FILE})"',
        "export PGPASSWORD",
        f'exec psql "{conninfo}" -v ON_ERROR_STOP=1 -q -f {JOB_SQL_FILE}',
    ]
    return "\n".join(lines) + "\n"
