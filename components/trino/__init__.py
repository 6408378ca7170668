"""Trino: one SQL endpoint over the lake and the warehouse, governed by a typed access policy.

One job a module (docs/trino.md):

- `settings.py`: `TrinoSettings` (the `data-platform:trino` section), node sizes, tier
  rules and tier defaults; `governance.yaml`: the access policy every tier starts from;
- `access.py`: the typed access policy and the `rules.json` / group file it renders;
- `connections.py`: what Trino connects to (S3, PostgreSQL, lineage, Kafka) and needs
  from PostgreSQL;
- `files.py`: the configuration files, rendered as text;
- `streams.py`: the OpenLineage and Kafka event listener files, the `kafka` catalog and
  the Kafka client file (lineage to Marquez, topics and the query audit trail on Kafka);
- `requirements.py` / `service.py`: what Trino requires of the producers, and its
  registry entry;
- `workloads.py`: commands, probes, files and the `Workload` of each tier;
- `component.py`: the `Trino` ComponentResource.

The names other packages use are re-exported here.
"""

from components.trino.access import AccessPolicy, render_group_file, render_rules_json
from components.trino.component import SERVICE, Trino
from components.trino.connections import (
    ICEBERG_JDBC_CATALOG_DDL,
    LAKE_DATABASE,
    TRINO_DATABASES,
    TRINO_POSTGRES_LOGIN,
    WAREHOUSE_DATABASE,
    JdbcConnection,
    S3Connection,
)
from components.trino.files import (
    CATALOG_DIR,
    CONFIG_DIR,
    DATA_DIR,
    HTTP_PORT,
    HTTPS_PORT,
    S3_CA_FILE,
    TRUSTSTORE,
    Login,
    render_access_control,
    render_coordinator_config,
    render_group_provider,
    render_jvm_config,
    render_lake_catalog,
    render_log_properties,
    render_node_properties,
    render_password_authenticator,
    render_warehouse_catalog,
    render_worker_config,
)
from components.trino.settings import (
    Authentication,
    LogLevel,
    NodeSettings,
    TrinoSettings,
    WorkerSettings,
)
from components.trino.workloads import (
    HEALTH_CHECK,
    graceful_shutdown_command,
    start_command,
    termination_grace_seconds,
    trust_s3_command,
)

__all__ = [
    "CATALOG_DIR",
    "CONFIG_DIR",
    "DATA_DIR",
    "HEALTH_CHECK",
    "HTTPS_PORT",
    "HTTP_PORT",
    "ICEBERG_JDBC_CATALOG_DDL",
    "LAKE_DATABASE",
    "S3_CA_FILE",
    "SERVICE",
    "TRINO_DATABASES",
    "TRINO_POSTGRES_LOGIN",
    "TRUSTSTORE",
    "WAREHOUSE_DATABASE",
    "AccessPolicy",
    "Authentication",
    "JdbcConnection",
    "LogLevel",
    "Login",
    "NodeSettings",
    "S3Connection",
    "Trino",
    "TrinoSettings",
    "WorkerSettings",
    "graceful_shutdown_command",
    "render_access_control",
    "render_coordinator_config",
    "render_group_file",
    "render_group_provider",
    "render_jvm_config",
    "render_lake_catalog",
    "render_log_properties",
    "render_node_properties",
    "render_password_authenticator",
    "render_rules_json",
    "render_warehouse_catalog",
    "render_worker_config",
    "start_command",
    "termination_grace_seconds",
    "trust_s3_command",
]
