"""Where the server's files live inside its container (the CloudNativePG image layout).

The start script, the rendered `postgresql.conf` and the workload's file mounts all use
these paths; the integration tests replace exactly these strings with local ones.
"""

from __future__ import annotations

from components.postgres.server_config import ServerPaths

CONFIG_DIR = "/etc/postgresql/conf"
SECRET_DIR = "/etc/postgresql/secrets"
DATA_MOUNT = "/var/lib/postgresql/data"
PGDATA = f"{DATA_MOUNT}/pgdata"
SOCKET_DIR = "/var/run/postgresql"
PASSWORD_FILE = f"{SECRET_DIR}/superuser-password"
CERT_FILE = f"{SECRET_DIR}/tls.crt"
KEY_SOURCE = f"{SECRET_DIR}/tls.key"
# Projected/uploaded files are root-owned and group/world readable; PostgreSQL wants its
# key private to its own uid, so the start script copies it into the socket tmpfs 0600.
KEY_FILE = f"{SOCKET_DIR}/tls.key"
JOB_SQL_FILE = "/etc/postgresql/job/statements.sql"
JOB_PASSWORD_FILE = "/etc/postgresql/job-secrets/password"
JOB_CA_FILE = "/etc/postgresql/job-secrets/server-ca.crt"
CONTAINER_PATHS = ServerPaths(hba_file=f"{CONFIG_DIR}/pg_hba.conf", socket_dir=SOCKET_DIR)


def container_paths(*, tls: bool) -> ServerPaths:
    """Paths inside the container (TLS files only when TLS is required)."""
    if not tls:
        return CONTAINER_PATHS
    return ServerPaths(
        hba_file=CONTAINER_PATHS.hba_file,
        socket_dir=SOCKET_DIR,
        ssl_cert_file=CERT_FILE,
        ssl_key_file=KEY_FILE,
    )
