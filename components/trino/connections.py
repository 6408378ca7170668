"""What Trino connects to: the lake's S3 store and its PostgreSQL databases, and as whom.

The platform builds these from what the storage components expose (endpoints, generated
credentials, the peer each connection opens) and hands them to the `Trino` component.
The database names and the login are Trino's requirements of PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.runtime.workload import Connection, Endpoint
from components.trino.files import POSTGRES_CA_FILE

LAKE_DATABASE = "iceberg"
WAREHOUSE_DATABASE = "warehouse"
TRINO_DATABASES = (LAKE_DATABASE, WAREHOUSE_DATABASE)
"""PostgreSQL databases Trino uses: the Iceberg JDBC catalog and the warehouse."""
ICEBERG_JDBC_CATALOG_DDL = (
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties ("
    "catalog_name VARCHAR(255) NOT NULL, namespace VARCHAR(255) NOT NULL, "
    "property_key VARCHAR(255), property_value VARCHAR(1000), "
    "PRIMARY KEY (catalog_name, namespace, property_key))",
    "CREATE TABLE IF NOT EXISTS iceberg_tables ("
    "catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL, "
    "table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), "
    "previous_metadata_location VARCHAR(1000), "
    "PRIMARY KEY (catalog_name, table_namespace, table_name))",
)
"""The tables Trino's Iceberg JDBC catalog needs in the `iceberg` database, created by its
owner before Trino first uses the lake: Trino does not create them (its first DDL fails with
`relation "iceberg_tables" does not exist`, seen on the real engine). From
https://trino.io/docs/current/object-storage/metastores.html#jdbc-catalog"""
TRINO_POSTGRES_LOGIN = "trino"
"""The PostgreSQL service login the warehouse catalog connects as (least privilege)."""


@dataclass(frozen=True, kw_only=True)
class S3Connection:
    """Where Trino reads and writes the lake's objects, and as whom."""

    endpoint: Endpoint
    access_key: pulumi.Input[str]
    secret_key: pulumi.Output[str]
    peer: Connection
    path_style: bool = True
    ca_certificate: pulumi.Output[str] | None = None
    """PEM of the certificate the S3 endpoint presents (HTTPS with a generated certificate)."""


@dataclass(frozen=True, kw_only=True)
class JdbcConnection:
    """A PostgreSQL database Trino connects to, and as whom."""

    endpoint: Endpoint
    database: str
    user: pulumi.Input[str]
    password: pulumi.Output[str]
    peer: Connection
    ca_certificate: pulumi.Output[str] | None = None
    """PEM the server's certificate is checked against (None: the server has no TLS)."""
    ca_file: str = POSTGRES_CA_FILE
    """Where the node finds `ca_certificate` (a secret file beside the catalogs)."""

    @property
    def url(self) -> str:
        """The JDBC URL of the database (`jdbc_url`; verified when the server has TLS)."""
        ca_file = self.ca_file if self.ca_certificate is not None else None
        return jdbc_url(self.endpoint, self.database, ca_file=ca_file)


def jdbc_url(endpoint: Endpoint, database: str, *, ca_file: str | None) -> str:
    """`jdbc:postgresql://host:port/database`; given `ca_file`, pgjdbc verifies the server's
    certificate and host name (`sslmode=verify-full`) against the PEM there
    (`sslrootcert`; https://jdbc.postgresql.org/documentation/ssl/). None: no TLS."""
    query = f"?sslmode=verify-full&sslrootcert={ca_file}" if ca_file is not None else ""
    return f"jdbc:postgresql://{endpoint.address}/{database}{query}"


@dataclass(frozen=True, kw_only=True)
class LineageConnection:
    """Where the OpenLineage listener posts run events (`url`: the API's base URL) and
    under which job namespace."""

    url: str
    namespace: str
    peer: Connection


@dataclass(frozen=True, kw_only=True)
class StreamConnection:
    """Kafka as Trino's own principal: brokers, protocol, SCRAM login, the brokers' CA.

    `password` is a secret Output (None without SASL); `ca_certificate` the PEM the
    brokers' certificate is checked against (None without TLS).
    """

    bootstrap_servers: tuple[str, ...]
    security_protocol: str
    sasl_mechanism: str | None
    user: str
    password: pulumi.Output[str] | None
    ca_certificate: pulumi.Output[str] | None
    peer: Connection
