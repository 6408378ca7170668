"""PostgreSQL with pgaudit, one module per job (docs/postgres.md "Layout").

`settings` (the stack section, tier defaults), `defaults.yaml` (the shared access
model), `server_config` (postgresql.conf, pg_hba.conf, audit/TLS/tuning), `access`
(the access model's settings), `plan` (specs and SQL), `scram` (password verifiers),
`declare` (pulumi-postgresql resources), `paths`, `scripts`, `workloads` and
`component` (the `Postgres` ComponentResource).
"""

from components.postgres.component import Postgres
from components.postgres.settings import PostgresSettings

__all__ = ["Postgres", "PostgresSettings"]
