"""Secrets: no credential in plain text in env or config files; secrets as files, not env.

A value is acceptable when it is a Pulumi secret (the engine hides it; an offline render
shows "[secret]"), unknown, empty, a reference (`valueFrom`, `$(VAR)`, `${VAR}`,
`${ENV:VAR}`, `$__file{...}`) or a file path.

Known limit: the Python policy SDK hands a rule the plaintext of a secret input without
its secret flag. Under a real `pulumi preview`, a Docker `envs` entry built from a Pulumi
secret therefore looks like plain text; offline checks see "[secret]". See docs/policies.md.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
)

from . import credentials, wire

SCHEMA: dict[str, dict[str, Any]] = {
    "credentialNamePattern": {
        "type": "string",
        "default": r"(?i)(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|[_.\-])(API)?KEY($|[_.\-]))",
    },
    "referenceSuffixPattern": {
        "type": "string",
        "default": r"(?i)[_.\-](FILE|FILES|PATH|DIR|NAME|ENCRYPTION|COMMAND|METHOD|TYPE|ENABLED|LENGTH|ALGORITHM|REFRESH[_.\-]PERIOD)$",
        "description": "Names ending like this refer to a credential or configure it; they hold none.",
    },
}

_ASSIGNMENT = re.compile(r"""^\s*["']?([A-Za-z0-9_.\-]+)["']?\s*[:=]\s*(.*?)\s*,?\s*$""")
_FILE_EXTENSIONS = frozenset(
    {"properties", "conf", "config", "cfg", "ini", "json", "yaml", "yml", "toml", "xml", "txt"}
    | {"env", "sh", "sql", "db", "pem", "crt", "key", "py", "js"}
)


def _credential_name(args: ResourceValidationArgs, name: str) -> bool:
    pattern = str(wire.setting(args, SCHEMA, "credentialNamePattern"))
    suffix = str(wire.setting(args, SCHEMA, "referenceSuffixPattern"))
    return bool(re.search(pattern, name)) and not re.search(suffix, name)


def _env_pairs(args: ResourceValidationArgs) -> list[tuple[str, str, Any]]:
    """(container, variable, literal value) of every env entry with a literal value, in
    every container list of every pod spec, and of a Docker container's envs."""
    spec = wire.pod_spec(args.resource_type, args.props)
    pairs = wire.env_literals(spec) if spec is not None else []
    if args.resource_type == wire.DOCKER_CONTAINER:
        pairs += [(args.name, n, v) for n, v in wire.docker_env(args.props) if n]
    return pairs


def validate_env(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Credential-named env variables hold no literal; no env value carries credential
    material (private key, AWS key, URL or connection string with a password)."""
    for container, name, value in _env_pairs(args):
        if _credential_name(args, name) and credentials.is_plain_credential(value):
            report(
                f"env {name} of container '{container}' holds a credential in plain text; "
                "mount it as a Secret file (or use valueFrom.secretKeyRef).",
                None,
            )
            continue
        found = credentials.material(value)
        if found:
            report(f"env {name} of container '{container}' carries {found} in plain text.", None)


def _file_key_is_name(key: str) -> bool:
    """A ConfigMap key without a file extension names a value (DB_PASSWORD), not a file."""
    return key.rsplit(".", 1)[-1].lower() not in _FILE_EXTENSIONS or "." not in key


def validate_config_files(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Config files (ConfigMap data and binaryData, Docker uploads) carry no credential."""
    for file_name, content in wire.config_files(args.resource_type, args.props):
        if (
            "\n" not in content.strip()
            and _file_key_is_name(file_name)
            and _credential_name(args, file_name)
            and credentials.is_plain_credential(content)
        ):
            report(f"{file_name}: the entry holds a credential in plain text.", None)
            continue
        if "PRIVATE KEY" in content and credentials.material(content) == "a private key":
            report(f"{file_name}: holds a private key in plain text.", None)
            continue
        _check_lines(args, file_name, content, report)


def _check_lines(
    args: ResourceValidationArgs, file_name: str, content: str, report: ReportViolation
) -> None:
    for number, line in enumerate(content.splitlines(), start=1):
        if line.lstrip().startswith(("#", "!", "//", ";")):
            continue
        match = _ASSIGNMENT.match(line)
        if (
            match
            and _credential_name(args, match.group(1))
            and credentials.is_plain_credential(match.group(2))
        ):
            report(
                f"{file_name} line {number}: {match.group(1)} is set in plain text; "
                "deliver it through a Secret or an env reference such as ${ENV:VAR}.",
                None,
            )
            continue
        found = credentials.material(line)
        if found:
            report(f"{file_name} line {number}: carries {found} in plain text.", None)


def validate_secret_env(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No container takes a Secret through env (secretKeyRef, envFrom secretRef; Docker:
    a secret envs entry): env leaks into /proc, crash dumps, child processes and
    `kubectl describe`, and never changes in a running process on rotation."""
    spec = wire.pod_spec(args.resource_type, args.props)
    for _, container in wire.container_entries(spec) if spec is not None else []:
        name = wire.container_name(container)
        variables = [
            wire.text(wire.get(entry, "name")) or "?"
            for entry in wire.elements(wire.get(container, "env"))
            if wire.get(entry, "valueFrom", "secretKeyRef") is not None
        ]
        if variables:
            report(
                f"container '{name}' reads Secret values from env: {', '.join(variables)}.",
                None,
            )
        literal = [
            wire.text(wire.get(entry, "name")) or "?"
            for entry in wire.elements(wire.get(container, "env"))
            if wire.get(entry, "value") == wire.SECRET_MARKER
        ]
        if literal:
            report(
                f"container '{name}' has Pulumi secrets as literal env values (stored in clear "
                f"in the pod spec): {', '.join(literal)}.",
                None,
            )
        sources = [
            wire.text(wire.get(entry, "secretRef", "name")) or "?"
            for entry in wire.elements(wire.get(container, "envFrom"))
            if wire.get(entry, "secretRef") is not None
        ]
        if sources:
            report(
                f"container '{name}' imports whole Secrets into env: {', '.join(sources)}.",
                None,
            )
    if args.resource_type == wire.DOCKER_CONTAINER:
        hidden = [v for n, v in wire.docker_env(args.props) if v == wire.SECRET_MARKER]
        if hidden:
            report(f"container '{args.name}' receives {len(hidden)} secret(s) through env.", None)


no_plaintext_env = ResourceValidationPolicy(
    name="no-plaintext-credentials-in-env",
    description=(
        "No env variable named like a credential (*PASSWORD*, *SECRET*, *TOKEN*, *KEY*...) "
        "holds a literal value, and no env value carries credential material (a private "
        "key, an AWS access key id or secret key, a URL or JDBC/ODBC/libpq connection string "
        "with a password), in every container list of every pod spec and in Docker envs."
    ),
    validate=validate_env,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=SCHEMA),
    remediation_steps=(
        "Declare the value as secret env of the Workload (it becomes a Secret reference on "
        "Kubernetes and a Pulumi secret on Docker); generate it with RandomPassword or "
        "read it with config.require_secret."
    ),
    tags=["secrets"],
)

no_plaintext_config = ResourceValidationPolicy(
    name="no-plaintext-credentials-in-config-files",
    description=(
        "No config delivered in plain text (ConfigMap data and binaryData, Docker upload "
        "content) holds a credential: a credential-named entry or key with a literal value, "
        "a private key, an AWS access key id or secret key, or a URL or connection string "
        "with a password."
    ),
    validate=validate_config_files,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=SCHEMA),
    remediation_steps=(
        "Move the file to the Workload's secret files (a Kubernetes Secret / secret upload), "
        "or reference an env variable (${ENV:VAR}, $__file{...}) fed from a Secret."
    ),
    tags=["secrets"],
)

secrets_as_files = ResourceValidationPolicy(
    name="secrets-as-files-not-env",
    description=(
        "No container of any pod spec (app, init, ephemeral) receives a Secret through env "
        "(env[].valueFrom.secretKeyRef, envFrom[].secretRef) and no Docker container a "
        "secret envs entry: secrets are mounted as files (*_FILE variables, --pwfile, "
        "Secret volumes). Mirrors checkov CKV_K8S_35."
    ),
    validate=validate_secret_env,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.MEDIUM,
    remediation_steps=(
        "Mount the Secret as a volume (or a Docker upload) and point the program at the "
        "file: a *_FILE variable, a --password-file flag, or a properties file kept in a "
        "Secret volume."
    ),
    tags=["secrets"],
)

POLICIES = [no_plaintext_env, no_plaintext_config, secrets_as_files]
"""The secrets policies."""
