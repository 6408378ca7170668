"""Audit: PostgreSQL servers preload pgaudit, log the required classes and connections, use TLS.

The policies read every `postgresql.conf` delivered as plain config (a ConfigMap data
entry or a Docker container upload whose name matches configFilePattern), whatever
workload it belongs to.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from rules.declare import mandatory_policy

from . import wire

FILE_SCHEMA: dict[str, dict[str, Any]] = {
    "configFilePattern": {"type": "string", "default": r"postgresql\.conf$"},
}
CLASSES_SCHEMA: dict[str, dict[str, Any]] = {
    **FILE_SCHEMA,
    "requiredClasses": {
        "type": "array",
        "items": {"type": "string"},
        "default": ["ddl", "role", "write"],
    },
}
TLS_SCHEMA: dict[str, dict[str, Any]] = {
    **FILE_SCHEMA,
    "requireTls": {"type": "boolean", "default": True},
}
_ALL_CLASSES = ("read", "write", "function", "role", "ddl", "misc", "misc_set")
_ON = frozenset({"on", "true", "yes", "1"})


def postgresql_confs(
    args: ResourceValidationArgs, schema: dict[str, dict[str, Any]]
) -> list[tuple[str, dict[str, str]]]:
    """(file name, parsed settings) of every postgresql.conf the resource delivers."""
    pattern = str(wire.setting(args, schema, "configFilePattern"))
    return [
        (name, wire.parse_properties(content))
        for name, content in wire.config_files(args.resource_type, args.props)
        if re.search(pattern, name)
    ]


def audited_classes(value: str) -> set[str]:
    """The classes a `pgaudit.log` value covers (`all` expands; `-class` subtracts)."""
    covered: set[str] = set()
    for raw in value.split(","):
        item = raw.strip().lower()
        if not item or item == "none":
            continue
        subtract = item.startswith("-")
        names = set(_ALL_CLASSES) if item.lstrip("-") == "all" else {item.lstrip("-")}
        covered = covered - names if subtract else covered | names
    return covered


def validate_preload(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """shared_preload_libraries lists pgaudit."""
    for name, settings in postgresql_confs(args, FILE_SCHEMA):
        libraries = [x.strip() for x in settings.get("shared_preload_libraries", "").split(",")]
        if "pgaudit" not in libraries:
            report(f"{name}: shared_preload_libraries does not include pgaudit.", None)


def validate_classes(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """pgaudit.log covers at least the stack's required classes."""
    required = [str(c).lower() for c in wire.setting(args, CLASSES_SCHEMA, "requiredClasses")]
    for name, settings in postgresql_confs(args, CLASSES_SCHEMA):
        covered = audited_classes(settings.get("pgaudit.log", ""))
        missing = [c for c in required if c not in covered]
        if missing:
            report(
                f"{name}: pgaudit.log = '{settings.get('pgaudit.log', '')}' misses "
                f"{', '.join(missing)} (required: {', '.join(required)}).",
                None,
            )


def validate_connections(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """log_connections and log_disconnections are on."""
    for name, settings in postgresql_confs(args, FILE_SCHEMA):
        off = [
            key
            for key in ("log_connections", "log_disconnections")
            if settings.get(key, "off").lower() in ("off", "false", "no", "0", "")
        ]
        if off:
            report(f"{name}: {' and '.join(off)} not on.", None)


def validate_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """`ssl = on` where the stack requires TLS."""
    if not wire.setting(args, TLS_SCHEMA, "requireTls"):
        return
    for name, settings in postgresql_confs(args, TLS_SCHEMA):
        if settings.get("ssl", "off").lower() not in _ON:
            report(
                f"{name}: ssl = {settings.get('ssl', 'off (default)')}; this stack requires TLS.",
                None,
            )


def _policy(
    name: str, description: str, validate: Any, schema: dict[str, dict[str, Any]], remediation: str
) -> ResourceValidationPolicy:
    return mandatory_policy(
        name,
        description,
        validate,
        severity=Severity.HIGH,
        remediation=remediation,
        tags=("audit", "postgresql"),
        schema=schema,
    )


POLICIES = [
    _policy(
        "postgres-pgaudit-preloaded",
        "Every postgresql.conf delivered as config lists pgaudit in shared_preload_libraries.",
        validate_preload,
        FILE_SCHEMA,
        "Add pgaudit to shared_preload_libraries (restart) and CREATE EXTENSION pgaudit.",
    ),
    _policy(
        "postgres-pgaudit-log-classes",
        "Every postgresql.conf sets pgaudit.log to cover at least the stack's requiredClasses "
        "(`all` covers every class, `-class` subtracts).",
        validate_classes,
        CLASSES_SCHEMA,
        "Set pgaudit.log to include the required classes (e.g. 'ddl, role, write').",
    ),
    _policy(
        "postgres-log-connections",
        "Every postgresql.conf turns log_connections and log_disconnections on (CIS).",
        validate_connections,
        FILE_SCHEMA,
        "Set log_connections = on and log_disconnections = on.",
    ),
    _policy(
        "postgres-tls-required",
        "Where requireTls is set (prod), every postgresql.conf sets ssl = on.",
        validate_tls,
        TLS_SCHEMA,
        "Set ssl = on with ssl_cert_file/ssl_key_file, and admit hostssl only in pg_hba.conf.",
    ),
]
"""The audit policies."""
