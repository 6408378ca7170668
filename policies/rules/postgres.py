"""PostgreSQL: client authentication, what the server log may hold, roles, PUBLIC grants.

Read from any resource that carries them, not only ours:
- `pg_hba.conf` and `postgresql.conf` in any ConfigMap (`data`, `binaryData`), any
  Kubernetes Secret whose content is known (`stringData`, `data`), any Docker upload
  (file name matched by `hbaFilePattern` / `configFilePattern`), and the same settings
  inside a CloudNativePG `Cluster` (`spec.postgresql.pg_hba`, `spec.postgresql.parameters`);
- pulumi-postgresql `Role`, `Grant` and `DefaultPrivileges` resources.

pg_hba.conf format: https://www.postgresql.org/docs/15/auth-pg-hba-conf.html; logging
settings: https://www.postgresql.org/docs/15/runtime-config-logging.html.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from rules.declare import mandatory_policy

from . import audit, wire

CNPG_CLUSTER = "kubernetes:postgresql.cnpg.io/v1:Cluster"
PG_ROLE = "postgresql:index/role:Role"
PG_GRANT = "postgresql:index/grant:Grant"
PG_DEFAULT_PRIVILEGES = (
    "postgresql:index/defaultPrivileges:DefaultPrivileges",
    "postgresql:index/defaultPrivileg:DefaultPrivileg",
)

_HBA_FILE: dict[str, Any] = {"type": "string", "default": r"pg_hba\.conf$"}
HBA_SCHEMA: dict[str, dict[str, Any]] = {
    "hbaFilePattern": _HBA_FILE,
    "requireScram": {
        "type": "boolean",
        "default": True,
        "description": "md5 counts as weak (scram-sha-256 expected).",
    },
}
HOSTSSL_SCHEMA: dict[str, dict[str, Any]] = {
    "hbaFilePattern": _HBA_FILE,
    "requireTls": {
        "type": "boolean",
        "default": True,
        "description": "TCP clients must use TLS (false on a loopback-only dev stack).",
    },
}
CONF_SCHEMA = audit.FILE_SCHEMA
ROLE_SCHEMA: dict[str, dict[str, Any]] = {
    "allowedPrivilegedRoles": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Roles besides the provider's own admin that may keep these attributes.",
    },
}

_WEAK = {
    "trust": "admits anyone without a password",
    "password": "sends the password in clear text",
    "ident": "trusts the client host's ident answer",
}
_HOST_TYPES = frozenset({"host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"})
_INCLUDES = frozenset({"include", "include_if_exists", "include_dir"})
_ON = frozenset({"on", "true", "yes", "1"})


# --- where the files and settings are --------------------------------------------------


def _secret_files(resource_type: str, props: Any) -> list[tuple[str, str]]:
    """(key, content) of a Kubernetes Secret's known `stringData` and `data` entries."""
    if wire.kubernetes_kind(resource_type) != "Secret":
        return []
    files: list[tuple[str, str]] = []
    for key, value in wire.items(wire.get(props, "stringData")):
        content = wire.text(value)
        if content is not None and content != wire.SECRET_MARKER:
            files.append((key, content))
    for key, value in wire.items(wire.get(props, "data")):
        raw = wire.text(value)
        if raw is None or raw == wire.SECRET_MARKER:
            continue
        try:
            files.append((key, base64.b64decode(raw, validate=True).decode("utf-8")))
        except ValueError:
            continue
    return files


def delivered_files(args: ResourceValidationArgs, pattern: str) -> list[tuple[str, str]]:
    """(name, content) of every known file the resource delivers whose name matches."""
    files = wire.config_files(args.resource_type, args.props)
    files += _secret_files(args.resource_type, args.props)
    return [(name, content) for name, content in files if re.search(pattern, name)]


def _cnpg(args: ResourceValidationArgs, key: str) -> Any:
    if args.resource_type != CNPG_CLUSTER:
        return None
    return wire.get(args.props, "spec", "postgresql", key)


def server_settings(args: ResourceValidationArgs) -> list[tuple[str, dict[str, str]]]:
    """(where, settings) of every postgresql.conf delivered and every CNPG Cluster."""
    pattern = str(wire.setting(args, CONF_SCHEMA, "configFilePattern"))
    found = [(n, wire.parse_properties(c)) for n, c in delivered_files(args, pattern)]
    parameters = _cnpg(args, "parameters")
    if parameters is not None and not wire.is_unknown(parameters):
        known = {k: str(v) for k, v in wire.items(parameters) if not wire.is_unknown(v)}
        found.append(("spec.postgresql.parameters", known))
    return found


@dataclass(frozen=True)
class HbaEntry:
    """One record of pg_hba.conf: connection type, address (None for `local`), method."""

    where: str
    line: str
    kind: str
    address: str | None
    method: str

    @property
    def any_address(self) -> bool:
        """True when the record matches clients from every address."""
        if self.address is None:
            return False
        if self.address == "all":
            return True
        try:
            return ipaddress.ip_network(self.address, strict=False).prefixlen == 0
        except ValueError:
            return False


def _is_ip(token: str) -> bool:
    try:
        ipaddress.ip_address(token)
    except ValueError:
        return False
    return True


def parse_hba_line(where: str, raw: str) -> HbaEntry | None:
    """A pg_hba.conf record, or None for blanks, comments, includes and unreadable lines."""
    try:
        tokens = shlex.split(raw, comments=True)
    except ValueError:
        return None
    if not tokens or tokens[0] in _INCLUDES:
        return None
    kind = tokens[0].lower()
    if kind == "local" and len(tokens) >= 4:
        return HbaEntry(where, raw.strip(), kind, None, tokens[3].lower())
    if kind not in _HOST_TYPES or len(tokens) < 5:
        return None
    address, rest = tokens[3], tokens[4:]
    if "/" not in address and _is_ip(address) and _is_ip(rest[0]) and len(rest) >= 2:
        mask = ipaddress.ip_address(rest[0])
        bits = bin(int(mask)).count("1")
        address, rest = f"{address}/{bits}", rest[1:]
    return HbaEntry(where, raw.strip(), kind, address, rest[0].lower())


def hba_entries(args: ResourceValidationArgs, schema: dict[str, dict[str, Any]]) -> list[HbaEntry]:
    """Every record of every pg_hba.conf the resource delivers, and of a CNPG Cluster."""
    pattern = str(wire.setting(args, schema, "hbaFilePattern"))
    lines: list[tuple[str, str]] = []
    for name, content in delivered_files(args, pattern):
        lines += [(name, raw) for raw in content.splitlines()]
    lines += [
        ("spec.postgresql.pg_hba", wire.text(x) or "") for x in wire.elements(_cnpg(args, "pg_hba"))
    ]
    entries = [parse_hba_line(where, raw) for where, raw in lines]
    return [e for e in entries if e is not None]


# --- pg_hba.conf -----------------------------------------------------------------------


def validate_hba_auth(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No trust, password or (TCP) ident, and no md5 where scram is required."""
    scram = bool(wire.setting(args, HBA_SCHEMA, "requireScram"))
    for entry in hba_entries(args, HBA_SCHEMA):
        problem = _WEAK.get(entry.method)
        if entry.method == "ident" and entry.address is None:
            problem = None  # on the local socket ident means peer
        if entry.method == "md5" and scram:
            problem = "uses md5 hashes (scram-sha-256 expected)"
        if problem is None:
            continue
        anywhere = " from any address" if entry.any_address else ""
        report(f"{entry.where}: '{entry.line}' {problem}{anywhere}.", None)


def validate_hba_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Where TLS is required, TCP records that admit clients are `hostssl` (or GSS-encrypted)."""
    if not wire.setting(args, HOSTSSL_SCHEMA, "requireTls"):
        return
    for entry in hba_entries(args, HOSTSSL_SCHEMA):
        if entry.address is None or entry.method == "reject":
            continue
        if entry.kind in ("host", "hostnogssenc"):
            report(f"{entry.where}: '{entry.line}' admits connections without TLS.", None)
        elif entry.kind == "hostnossl":
            report(f"{entry.where}: '{entry.line}' admits only connections without TLS.", None)


# --- postgresql.conf: what the server log may hold -------------------------------------


def _zero(value: str) -> bool:
    return re.fullmatch(r"0\s*([kmg]?b)?", value.strip().lower()) is not None


def _statement_loggers(settings: dict[str, str]) -> list[str]:
    """The settings that make the server log statements (with their bind parameters)."""
    found = []
    for key in ("log_min_duration_statement", "log_min_duration_sample"):
        value = settings.get(key, "-1").strip()
        if value not in ("-1", ""):
            found.append(f"{key} = {value}")
    if settings.get("log_transaction_sample_rate", "0").strip() not in ("0", "0.0", ""):
        found.append(f"log_transaction_sample_rate = {settings['log_transaction_sample_rate']}")
    statement = settings.get("log_statement", "none").strip().lower()
    if statement not in ("none", ""):
        found.append(f"log_statement = {statement}")
    return found


def validate_log_parameters(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """With pgaudit.log_parameter off, the server's own log holds no bind parameter values."""
    for where, settings in server_settings(args):
        if settings.get("pgaudit.log_parameter", "off").strip().lower() in _ON:
            continue
        on_error = settings.get("log_parameter_max_length_on_error", "0")
        if not _zero(on_error):
            report(
                f"{where}: log_parameter_max_length_on_error = {on_error} logs bind parameters "
                "of failed statements while pgaudit.log_parameter is off.",
                None,
            )
        loggers = _statement_loggers(settings)
        length = settings.get("log_parameter_max_length", "-1 (default)")
        if loggers and not _zero(length):
            report(
                f"{where}: {', '.join(loggers)} with log_parameter_max_length = {length} logs "
                "bind parameter values while pgaudit.log_parameter is off.",
                None,
            )


def validate_log_statement(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """log_statement stays `none`: it logs CREATE/ALTER ROLE ... PASSWORD verbatim."""
    for where, settings in server_settings(args):
        value = settings.get("log_statement", "none").strip().lower()
        if value in ("ddl", "mod", "all"):
            report(
                f"{where}: log_statement = {value} writes role passwords and other secrets in "
                "statements to the log unredacted.",
                None,
            )


# --- pulumi-postgresql resources --------------------------------------------------------


def _provider_admin(args: ResourceValidationArgs) -> str | None:
    provider = getattr(args, "provider", None)
    if provider is None:
        return None
    return wire.text(wire.get(provider.props, "username"))


_LOGIN_ATTRIBUTES = {
    "createRole": "CREATEROLE",
    "createDatabase": "CREATEDB",
    "replication": "REPLICATION",
    "bypassRowLevelSecurity": "BYPASSRLS",
}


def validate_roles(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No superuser role at all; no login role with CREATEROLE, CREATEDB, REPLICATION or
    BYPASSRLS; the provider's own admin and allowedPrivilegedRoles excepted."""
    if args.resource_type != PG_ROLE:
        return
    name = wire.text(wire.get(args.props, "name")) or args.name
    allowed = {str(r) for r in wire.setting(args, ROLE_SCHEMA, "allowedPrivilegedRoles")}
    if name in allowed or name == _provider_admin(args):
        return
    granted = []
    if wire.boolean(wire.get(args.props, "superuser")):
        granted.append("SUPERUSER")
    if wire.boolean(wire.get(args.props, "login")):
        granted += [
            attribute
            for key, attribute in _LOGIN_ATTRIBUTES.items()
            if wire.boolean(wire.get(args.props, key))
        ]
    if granted:
        report(f"role '{name}' is declared with {', '.join(granted)}.", None)


def validate_public(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No Grant or DefaultPrivileges gives PUBLIC (every role, present and future) anything."""
    if args.resource_type != PG_GRANT and args.resource_type not in PG_DEFAULT_PRIVILEGES:
        return
    role = wire.text(wire.get(args.props, "role"))
    if role is None or role.lower() != "public":
        return
    privileges = [wire.text(p) for p in wire.elements(wire.get(args.props, "privileges"))]
    named = [p for p in privileges if p]
    if not named:
        return
    target = _grant_target(args.props)
    kind = "default privileges" if args.resource_type != PG_GRANT else "privileges"
    report(f"{kind} {', '.join(named)} on {target} granted to PUBLIC.", None)


def _grant_target(props: Any) -> str:
    parts = [
        wire.text(wire.get(props, "objectType")) or "object",
        wire.text(wire.get(props, "database")),
        wire.text(wire.get(props, "schema")),
    ]
    return " ".join(p for p in parts if p)


def _policy(
    name: str,
    description: str,
    validate: Any,
    schema: dict[str, dict[str, Any]] | None,
    remediation: str,
    severity: Severity,
) -> ResourceValidationPolicy:
    return mandatory_policy(
        name,
        description,
        validate,
        severity=severity,
        remediation=remediation,
        tags=("postgresql",),
        schema=schema,
    )


POLICIES = [
    _policy(
        "postgres-hba-strong-auth",
        "No pg_hba.conf record (any ConfigMap, known Secret, Docker upload or CNPG Cluster) "
        "uses trust, password (clear text) or TCP ident, nor md5 where requireScram is set.",
        validate_hba_auth,
        HBA_SCHEMA,
        "Use scram-sha-256 for TCP clients (peer on the local socket) and reject the rest.",
        Severity.CRITICAL,
    ),
    _policy(
        "postgres-hba-hostssl-only",
        "Where requireTls is set, pg_hba.conf admits TCP clients through hostssl records "
        "only; host and hostnossl records may only reject.",
        validate_hba_tls,
        HOSTSSL_SCHEMA,
        "Turn host records into hostssl and add 'hostnossl all all 0.0.0.0/0 reject'.",
        Severity.HIGH,
    ),
    _policy(
        "postgres-log-no-bind-parameters",
        "Where pgaudit.log_parameter is off, postgresql.conf keeps bind parameter values out "
        "of the server log: log_parameter_max_length = 0 whenever slow, sampled or "
        "statement logging is on, and log_parameter_max_length_on_error = 0.",
        validate_log_parameters,
        CONF_SCHEMA,
        "Set log_parameter_max_length = 0 and log_parameter_max_length_on_error = 0.",
        Severity.HIGH,
    ),
    _policy(
        "postgres-log-statement-none",
        "postgresql.conf leaves log_statement at none: ddl/mod/all log CREATE/ALTER ROLE "
        "... PASSWORD and other secrets verbatim; pgaudit audits statements, redacted.",
        validate_log_statement,
        CONF_SCHEMA,
        "Set log_statement = 'none' and audit statements with pgaudit.log.",
        Severity.HIGH,
    ),
    _policy(
        "postgres-roles-least-privilege",
        "pulumi-postgresql Roles are never SUPERUSER, and login roles carry no CREATEROLE, "
        "CREATEDB, REPLICATION or BYPASSRLS (the provider's own admin excepted).",
        validate_roles,
        ROLE_SCHEMA,
        "Give logins membership in NOLOGIN group roles instead; keep superuser to the "
        "provider's admin, or list a reviewed role in allowedPrivilegedRoles.",
        Severity.HIGH,
    ),
    _policy(
        "postgres-no-public-privileges",
        "No pulumi-postgresql Grant or DefaultPrivileges grants anything to PUBLIC (every "
        "role, including future ones); an empty privilege list (a revoke) is fine.",
        validate_public,
        None,
        "Grant to a group role and make the logins that need it members.",
        Severity.HIGH,
    ),
]
"""The PostgreSQL policies."""
