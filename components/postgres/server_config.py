"""PostgreSQL server files: the audit, TLS and tuning models and the files rendered from them.

`render_postgresql_conf` and `render_pg_hba` are pure functions of the settings. The
`Postgres` component ships their output to the container as `postgresql.conf` and
`pg_hba.conf`; the integration tests start a real server with exactly the same text
(only paths and the port differ, passed as `ServerPaths`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from components.runtime.stack import SettingsModel, Tier

DEFAULT_PORT = 5432
# The header names the module's path before the package split; it is part of every
# render (and of the pods' config hash), so it changes only with a re-recorded golden.
_HEADER = "# Rendered by components/postgres_server_config.py; do not edit by hand."
DEFAULT_LOG_LINE_PREFIX = "%m [%p] user=%u,db=%d,app=%a,client=%h "


class AuditClass(StrEnum):
    """A pgaudit session log class (`pgaudit.log`)."""

    READ = "read"
    WRITE = "write"
    FUNCTION = "function"
    ROLE = "role"
    DDL = "ddl"
    MISC = "misc"
    MISC_SET = "misc_set"
    ALL = "all"


MINIMUM_AUDIT_CLASSES: dict[Tier, frozenset[AuditClass]] = {
    Tier.DEV: frozenset({AuditClass.DDL, AuditClass.ROLE}),
    Tier.TEST: frozenset({AuditClass.DDL, AuditClass.ROLE, AuditClass.WRITE}),
    Tier.PROD: frozenset({AuditClass.DDL, AuditClass.ROLE, AuditClass.WRITE}),
}
"""The classes each tier must audit at least (a STIG asks for `ddl, write, role`)."""


def missing_audit_classes(classes: Iterable[AuditClass], tier: Tier) -> list[str]:
    """The tier's minimum classes not covered by `classes` (`all` covers every class)."""
    chosen = set(classes)
    if AuditClass.ALL in chosen:
        return []
    return sorted(c.value for c in MINIMUM_AUDIT_CLASSES[tier] - chosen)


# Escapes that log_line_prefix must carry: time, user, database, application, client.
_PREFIX_ESCAPES = {
    "time (%m or %t)": ("%m", "%t", "%n"),
    "user (%u)": ("%u",),
    "database (%d)": ("%d",),
    "application (%a)": ("%a",),
    "client (%h or %r)": ("%h", "%r"),
}


class AuditSettings(SettingsModel):
    """What pgaudit and the connection log record; secure by default."""

    classes: tuple[AuditClass, ...] = Field(
        default=(AuditClass.DDL, AuditClass.ROLE, AuditClass.WRITE), min_length=1
    )
    log_relation: bool = True
    log_parameter: bool = False
    log_catalog: bool = False
    log_connections: bool = True
    log_disconnections: bool = True
    log_line_prefix: str = DEFAULT_LOG_LINE_PREFIX

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be unique, got {[c.value for c in self.classes]}")
        if not (self.log_connections and self.log_disconnections):
            raise ValueError("logConnections and logDisconnections must stay on (CIS benchmark)")
        missing = [
            what
            for what, escapes in _PREFIX_ESCAPES.items()
            if not any(e in self.log_line_prefix for e in escapes)
        ]
        if missing:
            raise ValueError(f"logLinePrefix must record {', '.join(missing)}")
        if "'" in self.log_line_prefix or "\n" in self.log_line_prefix:
            raise ValueError("logLinePrefix may not contain quotes or newlines")
        return self


class CertificateSource(StrEnum):
    """Where the server certificate comes from."""

    GENERATED = "generated"
    CONFIGURED = "configured"


ConfigKey = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")]


class TlsSettings(SettingsModel):
    """Client TLS: when required, pg_hba admits `hostssl` only; the certificate is generated
    (components/tls.py) or read from the secret stack config keys named here.

    Consumers verify the server (`sslmode=verify-full`) against a trust anchor: the
    generated certificate is self-signed, its own anchor. A configured certificate is
    its own anchor too unless `caConfigKey` names the stack config key holding the PEM
    of the CA that issued it (a CA-signed leaf: libpq's `sslrootcert` must hold the
    root the chain ends in). Either way the certificate must name the server's
    in-platform host (and the admin host, for the operator's own checks).
    """

    required: bool = True
    certificate: CertificateSource = CertificateSource.GENERATED
    cert_config_key: ConfigKey | None = None
    key_config_key: ConfigKey | None = None
    ca_config_key: ConfigKey | None = None

    @model_validator(mode="after")
    def _keys_when_configured(self) -> Self:
        configured = self.certificate is CertificateSource.CONFIGURED
        has_keys = self.cert_config_key is not None and self.key_config_key is not None
        if configured and not has_keys:
            raise ValueError("certificate 'configured' needs certConfigKey and keyConfigKey")
        if not configured and (self.cert_config_key or self.key_config_key or self.ca_config_key):
            raise ValueError(
                "certConfigKey/keyConfigKey/caConfigKey are only used with certificate 'configured'"
            )
        return self


MemorySetting = Annotated[str, Field(pattern=r"^[1-9][0-9]*(kB|MB|GB)$")]


class ServerTuning(SettingsModel):
    """Sizing knobs of the server."""

    max_connections: int = Field(default=200, ge=10, le=5000)
    shared_buffers: MemorySetting = "256MB"
    work_mem: MemorySetting = "8MB"
    log_min_duration_statement_ms: int = Field(default=-1, ge=-1)
    statement_timeout_ms: int = Field(default=0, ge=0)


@dataclass(frozen=True, kw_only=True)
class ServerPaths:
    """Where the server finds its files; the container and the test fixture differ only here."""

    hba_file: str
    socket_dir: str
    ssl_cert_file: str | None = None
    ssl_key_file: str | None = None
    port: int = DEFAULT_PORT
    listen_addresses: str = "*"


def _bool(value: bool) -> str:
    return "on" if value else "off"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _statement_log_lines(audit: AuditSettings) -> list[str]:
    """What the server's own log may show of statements: pgaudit audits them (redacting
    role passwords), so `log_statement` stays `none` (it logs CREATE/ALTER ROLE ...
    PASSWORD verbatim); bind parameter values appear only where pgaudit.log_parameter is
    on: otherwise `log_parameter_max_length = 0` drops the `DETAIL: parameters:` line of
    slow (log_min_duration_statement), sampled and failed statements, keeping their text."""
    parameters = -1 if audit.log_parameter else 0
    return [
        "log_statement = 'none'",
        f"log_parameter_max_length = {parameters}",
        "log_parameter_max_length_on_error = 0",
    ]


def render_postgresql_conf(
    *,
    audit: AuditSettings,
    tls: TlsSettings,
    tuning: ServerTuning,
    paths: ServerPaths,
) -> str:
    """`postgresql.conf` for these settings: pgaudit preloaded, connections logged, scram, TLS.

    Logs go to stderr (the container runtime collects them; the test fixture's `pg_ctl -l`).
    """
    if tls.required and not (paths.ssl_cert_file and paths.ssl_key_file):
        raise ValueError("TLS is required but no certificate/key paths were given")
    lines = [
        _HEADER,
        f"listen_addresses = {_quote(paths.listen_addresses)}",
        f"port = {paths.port}",
        f"unix_socket_directories = {_quote(paths.socket_dir)}",
        f"hba_file = {_quote(paths.hba_file)}",
        f"max_connections = {tuning.max_connections}",
        f"shared_buffers = {_quote(tuning.shared_buffers)}",
        f"work_mem = {_quote(tuning.work_mem)}",
        f"statement_timeout = {tuning.statement_timeout_ms}",
        "",
        "# Authentication",
        "password_encryption = 'scram-sha-256'",
        f"ssl = {_bool(tls.required)}",
    ]
    if tls.required:
        assert paths.ssl_cert_file and paths.ssl_key_file
        lines += [
            f"ssl_cert_file = {_quote(paths.ssl_cert_file)}",
            f"ssl_key_file = {_quote(paths.ssl_key_file)}",
            "ssl_min_protocol_version = 'TLSv1.2'",
        ]
    lines += [
        "",
        "# Logging",
        "logging_collector = off",
        "log_destination = 'stderr'",
        f"log_line_prefix = {_quote(audit.log_line_prefix)}",
        f"log_connections = {_bool(audit.log_connections)}",
        f"log_disconnections = {_bool(audit.log_disconnections)}",
        f"log_min_duration_statement = {tuning.log_min_duration_statement_ms}",
        *_statement_log_lines(audit),
        "log_timezone = 'UTC'",
        "timezone = 'UTC'",
        "",
        "# Audit (pgaudit must be preloaded; CREATE EXTENSION pgaudit runs per database)",
        "shared_preload_libraries = 'pgaudit'",
        f"pgaudit.log = {_quote(', '.join(c.value for c in audit.classes))}",
        f"pgaudit.log_catalog = {_bool(audit.log_catalog)}",
        f"pgaudit.log_relation = {_bool(audit.log_relation)}",
        f"pgaudit.log_parameter = {_bool(audit.log_parameter)}",
        "pgaudit.log_level = 'log'",
        "",
    ]
    return "\n".join(lines)


def render_pg_hba(*, tls: TlsSettings, admin_user: str) -> str:
    """`pg_hba.conf`: scram-sha-256 over TCP (`hostssl` only when TLS is required); on the
    local socket only the admin, by peer identity."""
    tcp = "hostssl" if tls.required else "host"
    lines = [
        _HEADER,
        "# TYPE    DATABASE  USER  ADDRESS    METHOD",
        f"local     all       {admin_user}  peer",
        "local     all       all   reject",
    ]
    if tls.required:
        lines += [
            "hostnossl all       all   0.0.0.0/0  reject",
            "hostnossl all       all   ::/0       reject",
        ]
    lines += [
        f"{tcp:<9} all       all   0.0.0.0/0  scram-sha-256",
        f"{tcp:<9} all       all   ::/0       scram-sha-256",
        "",
    ]
    return "\n".join(lines)
