"""Secrets: no credential in plain text in env or config files.

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

from . import wire

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

_REFERENCE = re.compile(
    r"^(\$\([^)]+\)|\$\{[^}]+\}|\$__(file|env)\{[^}]+\}|\{\{.+\}\}|\$[A-Z_][A-Z0-9_]*)$"
)
_URL_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^/:@\s]+:([^@\s/]+)@")
_ASSIGNMENT = re.compile(r"""^\s*["']?([A-Za-z0-9_.\-]+)["']?\s*[:=]\s*(.*?)\s*,?\s*$""")
_HARMLESS = frozenset({"", "true", "false", "on", "off", "yes", "no", "none", "null", "~"})


def _is_plain_credential(value: Any) -> bool:
    """True when a credential-named value is a literal, not a secret, reference or path."""
    if wire.is_secret_or_unknown(value) or not isinstance(value, str):
        return False
    stripped = value.strip().strip("\"'")
    if stripped.lower() in _HARMLESS or stripped.startswith("/") or wire.SECRET_MARKER in stripped:
        return False
    return not _REFERENCE.match(stripped)


def _credential_name(args: ResourceValidationArgs, name: str) -> bool:
    pattern = str(wire.setting(args, SCHEMA, "credentialNamePattern"))
    suffix = str(wire.setting(args, SCHEMA, "referenceSuffixPattern"))
    return bool(re.search(pattern, name)) and not re.search(suffix, name)


def _inline_url_password(value: Any) -> bool:
    if not isinstance(value, str) or wire.is_secret_or_unknown(value):
        return False
    return any(_is_plain_credential(m.group(1)) for m in _URL_PASSWORD.finditer(value))


def _env_pairs(args: ResourceValidationArgs) -> list[tuple[str, str, Any]]:
    """(container, variable, literal value) of every env entry with a literal value."""
    pairs: list[tuple[str, str, Any]] = []
    spec = wire.pod_spec(args.resource_type, args.props)
    if spec is not None:
        for container in wire.containers(spec):
            for entry in wire.elements(wire.get(container, "env")):
                name = wire.text(wire.get(entry, "name"))
                value = wire.get(entry, "value")
                if name is not None and value is not None:
                    pairs.append((wire.container_name(container), name, value))
    if args.resource_type == wire.DOCKER_CONTAINER:
        for entry in wire.elements(wire.get(args.props, "envs")):
            raw = wire.text(entry)
            if raw is None or raw == wire.SECRET_MARKER or "=" not in raw:
                continue
            name, _, value = raw.partition("=")
            pairs.append((args.name, name, value))
    return pairs


def validate_env(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Credential-named env variables hold no literal; no env URL embeds a password."""
    for container, name, value in _env_pairs(args):
        if _credential_name(args, name) and _is_plain_credential(value):
            report(
                f"env {name} of container '{container}' holds a credential in plain text; "
                "use a Secret reference (valueFrom.secretKeyRef) or a Pulumi secret.",
                None,
            )
        elif _inline_url_password(value):
            report(
                f"env {name} of container '{container}' embeds a password in a URL in plain text.",
                None,
            )


def validate_config_files(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Config files (ConfigMap data, Docker uploads) carry no literal credential."""
    for file_name, content in wire.config_files(args.resource_type, args.props):
        for number, line in enumerate(content.splitlines(), start=1):
            if line.lstrip().startswith(("#", "!", "//", ";")):
                continue
            match = _ASSIGNMENT.match(line)
            if (
                match
                and _credential_name(args, match.group(1))
                and _is_plain_credential(match.group(2))
            ):
                report(
                    f"{file_name} line {number}: {match.group(1)} is set in plain text; "
                    "deliver it through a Secret or an env reference such as ${ENV:VAR}.",
                    None,
                )
                continue
            if _inline_url_password(line):
                report(f"{file_name} line {number}: a URL embeds a password in plain text.", None)


no_plaintext_env = ResourceValidationPolicy(
    name="no-plaintext-credentials-in-env",
    description=(
        "No container env variable named like a credential (*PASSWORD*, *SECRET*, *TOKEN*, "
        "*KEY*...) holds a literal value, and no env value embeds a password in a URL "
        "(Kubernetes env[].value, Docker envs 'K=V')."
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
        "No config file delivered in plain text (Kubernetes ConfigMap data, Docker upload "
        "content) assigns a literal to a credential-named key or embeds a password in a URL."
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

POLICIES = [no_plaintext_env, no_plaintext_config]
"""The secrets policies."""
