"""Access: Trino authenticates, runs file-based access control whose rules end in explicit
denies, hand no catalog to everyone, mask PII for readers and never mask writers.

The policies read every Trino file (`access-control.properties`, `rules.json`,
`config.properties`) wherever a resource delivers it readably: any ConfigMap's `data` and
`binaryData`, any Secret's `data` and `stringData`, any Docker container's uploads, by file
name, whoever declared it. Where no Trino is declared (no workload runs a Trino image and no
such file exists) they pass vacuously; contents that are secret or unknown in a preview
cannot be read and are skipped.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import wire
from .images import image_references, parse_image

ACCESS_SCHEMA: dict[str, dict[str, Any]] = {
    "trinoImagePattern": {"type": "string", "default": r"(^|/)trino$"},
    "accessControlFilePattern": {"type": "string", "default": r"access-control\.properties$"},
}
RULES_SCHEMA: dict[str, dict[str, Any]] = {
    "rulesFilePattern": {"type": "string", "default": r"rules\.json$"},
}
PII_SCHEMA: dict[str, dict[str, Any]] = {
    **RULES_SCHEMA,
    "piiColumnPattern": {
        "type": "string",
        "default": (
            r"(?i)(^|_)(email|e_mail|phone|mobile|ssn|national_id|tax_id|passport|birth_?date|"
            r"date_of_birth|dob|address|iban|card_number|credit_card|full_name|first_name|last_name)($|_)"
        ),
    },
    "privilegedPrincipals": {
        "type": "array",
        "items": {"type": "string"},
        "default": [],
        "description": "Users, groups or roles allowed to read PII columns unmasked.",
    },
}
SECTIONS = (
    "catalogs",
    "schemas",
    "tables",
    "queries",
    "impersonation",
    "system_information",
    "authorization",
    "system_session_properties",
    "catalog_session_properties",
    "functions",
    "procedures",
)
COORDINATOR_SCHEMA: dict[str, dict[str, Any]] = {
    "configFilePattern": {"type": "string", "default": r"config\.properties$"},
    "requireAuthentication": {"type": "boolean", "default": True},
}
WRITE_PRIVILEGES = frozenset({"INSERT", "UPDATE", "DELETE"})
"""Table privileges Trino refuses to exercise where the user has a column mask."""
_SUBJECT_KEYS = ("user", "group", "role")
_DECISION_KEYS = frozenset({"allow", "privileges", "owner"})
_MATCH_ALL = frozenset({".*", "^.*$", "(.*)"})
_LITERAL = re.compile(r"^[A-Za-z0-9_-]+$")


def _decode(value: Any) -> str | None:
    raw = wire.text(value)
    if raw is None or raw == wire.SECRET_MARKER:
        return None
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def trino_files(resource_type: str, props: Any) -> list[tuple[str, str]]:
    """(file name, content) of every readable file a resource delivers: ConfigMaps and
    Docker uploads (`wire.config_files`) and Kubernetes Secrets (`data` base64 decoded,
    `stringData` as is); secret or unknown values are skipped."""
    files = wire.config_files(resource_type, props)
    if wire.kubernetes_kind(resource_type) == "Secret":
        for key, value in wire.items(wire.get(props, "data")):
            content = _decode(value)
            if content is not None:
                files.append((key, content))
        for key, value in wire.items(wire.get(props, "stringData")):
            content = wire.text(value)
            if content is not None and content != wire.SECRET_MARKER:
                files.append((key, content))
    return files


def validate_file_access_control(args: StackValidationArgs, report: ReportViolation) -> None:
    """Trino uses access-control.name=file with a rules file; a Trino without it fails."""
    image_pattern = str(wire.setting(args, ACCESS_SCHEMA, "trinoImagePattern"))
    file_pattern = str(wire.setting(args, ACCESS_SCHEMA, "accessControlFilePattern"))
    trino: list[tuple[str, str]] = []
    found = False
    for resource in args.resources:
        for _, image in image_references(resource.resource_type, resource.props):
            if re.search(image_pattern, parse_image(image).repository):
                trino.append((resource.urn, image))
        for name, content in trino_files(resource.resource_type, resource.props):
            if not re.search(file_pattern, name):
                continue
            found = True
            settings = wire.parse_properties(content)
            if settings.get("access-control.name") != "file":
                report(
                    f"{name}: access-control.name = "
                    f"{settings.get('access-control.name', '<unset>')}; Trino must use 'file'.",
                    resource.urn,
                )
            elif not settings.get("security.config-file"):
                report(
                    f"{name}: access-control.name=file without security.config-file.", resource.urn
                )
    if trino and not found:
        urn, image = trino[0]
        report(
            f"Trino ({image}) is declared but no access-control.properties is delivered; "
            "without it Trino allows everything.",
            urn,
        )


def _rules_documents(
    args: ResourceValidationArgs, schema: dict[str, dict[str, Any]], report: ReportViolation | None
) -> list[tuple[str, dict[str, Any]]]:
    pattern = str(wire.setting(args, schema, "rulesFilePattern"))
    documents = []
    for name, content in trino_files(args.resource_type, args.props):
        if not re.search(pattern, name):
            continue
        document = wire.load_json(content)
        if document is None:
            if report is not None:
                report(f"{name} is not valid JSON; Trino would refuse to start.", None)
            continue
        if isinstance(document, dict) and any(k in document for k in SECTIONS):
            documents.append((name, document))
    return documents


def is_deny(rule: Any) -> bool:
    """True when a Trino access rule grants nothing."""
    if not isinstance(rule, dict):
        return False
    if "privileges" in rule:
        return rule["privileges"] == []
    if "allow" in rule:
        return rule["allow"] in (False, "none", [])
    return rule.get("owner") is False


def narrowing_keys(rule: dict[str, Any]) -> list[str]:
    """Match keys that restrict which requests a rule applies to."""
    return sorted(k for k, v in rule.items() if k not in _DECISION_KEYS and v not in _MATCH_ALL)


def validate_explicit_deny(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Each rule list of a rules.json ends with a catch-all deny."""
    for name, document in _rules_documents(args, RULES_SCHEMA, report):
        for section in SECTIONS:
            rules = document.get(section)
            if not isinstance(rules, list) or not rules:
                continue  # absent: Trino's default; empty: denies everything
            last = rules[-1]
            if not is_deny(last):
                report(
                    f"{name}: the last '{section}' rule grants access; end with an explicit deny.",
                    None,
                )
            elif narrowing_keys(last):
                report(
                    f"{name}: the final '{section}' deny is narrowed by "
                    f"{', '.join(narrowing_keys(last))}; it must match everyone.",
                    None,
                )


def _alternatives(pattern: Any) -> set[str]:
    text = str(pattern).strip("^$()")
    return {part.strip("^$()") for part in text.split("|")}


def _privileged(rule: dict[str, Any], principals: set[str]) -> bool:
    present = [rule[k] for k in ("user", "group", "role") if k in rule]
    return bool(present) and all(_alternatives(p) <= principals for p in present)


def _table_key(rule: dict[str, Any]) -> tuple[str, str, str]:
    return (
        str(rule.get("catalog", ".*")),
        str(rule.get("schema", ".*")),
        str(rule.get("table", ".*")),
    )


def _is_pii(column: dict[str, Any], pii: re.Pattern[str]) -> bool:
    return column.get("pii") is True or bool(pii.search(str(column.get("name", ""))))


def _hidden(column: dict[str, Any]) -> bool:
    return bool(column.get("mask")) or column.get("allow") is False


def _covers(pattern: str, target: str) -> bool:
    """True when a rule's match pattern admits every name the target part stands for."""
    if pattern in _MATCH_ALL or pattern == target:
        return True
    if not _LITERAL.match(target):
        return False  # target is itself a pattern: only a match-all or an equal one covers it
    try:
        return re.fullmatch(pattern, target) is not None
    except re.error:
        return False


def _covers_table(rule: dict[str, Any], table: tuple[str, str, str]) -> bool:
    return all(_covers(p, t) for p, t in zip(_table_key(rule), table, strict=True))


def _principals(rule: dict[str, Any]) -> dict[str, set[str]]:
    return {k: _alternatives(rule[k]) for k in ("user", "group", "role") if k in rule}


def _answered_earlier(
    earlier: list[dict[str, Any]], kind: str, principal: str, table: tuple[str, str, str]
) -> bool:
    """Whether a request of `principal` for `table` is decided by an earlier rule (first match)."""
    for rule in earlier:
        principals = _principals(rule)
        if principals and not (len(principals) == 1 and principal in principals.get(kind, set())):
            continue
        if _covers_table(rule, table):
            return True
    return False


def validate_pii_masked(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Non-privileged table rules mask (or deny) every PII column of the tables they reach.

    A table's PII columns are those any rule of the file lists for it. A rule exposes
    them when it grants SELECT on that table (by name or by a broader pattern) to a
    non-privileged principal whose requests no earlier rule decides (Trino applies the
    first matching rule) and it does not mask them itself. Rules that grant writes
    (INSERT, UPDATE, DELETE) are left to `trino-writers-unmasked`: Trino refuses writes
    under a mask, so a writer's rule must carry none.
    """
    pii = re.compile(str(wire.setting(args, PII_SCHEMA, "piiColumnPattern")))
    privileged = {str(p) for p in wire.setting(args, PII_SCHEMA, "privilegedPrincipals")}
    for name, document in _rules_documents(args, PII_SCHEMA, None):
        tables = [r for r in document.get("tables") or [] if isinstance(r, dict)]
        known: dict[tuple[str, str, str], set[str]] = {}
        for rule in tables:
            for column in rule.get("columns") or []:
                if isinstance(column, dict) and _is_pii(column, pii):
                    known.setdefault(_table_key(rule), set()).add(str(column.get("name")))
        for index, rule in enumerate(tables):
            if is_deny(rule) or _privileged(rule, privileged) or _writes(rule):
                continue
            who = (
                ", ".join(f"{k}={rule[k]}" for k in ("user", "group", "role") if k in rule)
                or "everyone"
            )
            columns = {
                str(c.get("name")): c for c in rule.get("columns") or [] if isinstance(c, dict)
            }
            for column_name, column in sorted(columns.items()):
                if _is_pii(column, pii) and not _hidden(column):
                    report(
                        f"{name}: tables rule #{index + 1} ({who}) exposes PII column "
                        f"'{column_name}' unmasked.",
                        None,
                    )
            if "SELECT" not in (rule.get("privileges") or ["SELECT"]):
                continue
            requesters = [
                (kind, principal)
                for kind, names in (_principals(rule) or {"everyone": {"*"}}).items()
                for principal in sorted(names - privileged)
            ]
            for table, pii_columns in sorted(known.items()):
                omitted = sorted(pii_columns - set(columns))
                if not omitted or not _covers_table(rule, table):
                    continue
                exposed_to = [
                    principal
                    for kind, principal in requesters
                    if not _answered_earlier(tables[:index], kind, principal, table)
                ]
                if exposed_to:
                    report(
                        f"{name}: tables rule #{index + 1} ({who}) on "
                        f"{'.'.join(_table_key(rule))} grants {rule.get('privileges')} on "
                        f"{'.'.join(table)} to {', '.join(exposed_to)} without masking PII "
                        f"columns {', '.join(omitted)}.",
                        None,
                    )


def _writes(rule: dict[str, Any]) -> set[str]:
    """The write privileges a table rule grants."""
    privileges = rule.get("privileges")
    if not isinstance(privileges, list):
        return set()
    return {str(p) for p in privileges} & WRITE_PRIVILEGES


def _who(rule: dict[str, Any]) -> str:
    return ", ".join(f"{k}={rule[k]}" for k in _SUBJECT_KEYS if k in rule) or "everyone"


def validate_writers_unmasked(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No table rule grants writes together with column masks, or UPDATE with a row filter.

    Trino refuses INSERT, UPDATE, DELETE and MERGE on a table where the user has a column
    mask, and UPDATE and MERGE where the user has a row filter, so such a rule grants
    writes the engine will never run.
    """
    for name, document in _rules_documents(args, RULES_SCHEMA, None):
        for index, rule in enumerate(document.get("tables") or []):
            if not isinstance(rule, dict):
                continue
            writes = _writes(rule)
            masked = sorted(
                str(c.get("name"))
                for c in rule.get("columns") or []
                if isinstance(c, dict) and c.get("mask")
            )
            where = (
                f"{name}: tables rule #{index + 1} ({_who(rule)}) on {'.'.join(_table_key(rule))}"
            )
            if writes and masked:
                report(
                    f"{where} grants {sorted(writes)} and masks {', '.join(masked)}; Trino "
                    "refuses writes to a table where the user has a column mask.",
                    None,
                )
            if "UPDATE" in writes and rule.get("filter"):
                report(
                    f"{where} grants UPDATE under a row filter; Trino refuses UPDATE and "
                    "MERGE on a table where the user has a row filter.",
                    None,
                )


def validate_catalog_not_for_everyone(
    args: ResourceValidationArgs, report: ReportViolation
) -> None:
    """No catalog rule grants a catalog, and no table rule grants a whole catalog, to
    every user: a rule that grants access names a user, group or role."""
    for name, document in _rules_documents(args, RULES_SCHEMA, None):
        for index, rule in enumerate(document.get("catalogs") or []):
            if isinstance(rule, dict) and not is_deny(rule) and not _subject(rule):
                report(
                    f"{name}: catalogs rule #{index + 1} gives catalog "
                    f"'{rule.get('catalog', '.*')}' ({rule.get('allow', 'all')}) to every user.",
                    None,
                )
        for index, rule in enumerate(document.get("tables") or []):
            if not isinstance(rule, dict) or is_deny(rule) or _subject(rule):
                continue
            if (
                str(rule.get("schema", ".*")) in _MATCH_ALL
                and str(rule.get("table", ".*")) in _MATCH_ALL
            ):
                report(
                    f"{name}: tables rule #{index + 1} grants {rule.get('privileges', 'all')} "
                    f"on every table of catalog '{rule.get('catalog', '.*')}' to every user.",
                    None,
                )


def _subject(rule: dict[str, Any]) -> bool:
    """Whether a rule names who it applies to (a user, group or role other than `.*`)."""
    return any(k in rule and str(rule[k]) not in _MATCH_ALL for k in _SUBJECT_KEYS)


def validate_coordinator_authentication(
    args: ResourceValidationArgs, report: ReportViolation
) -> None:
    """Every readable coordinator `config.properties` authenticates clients, and never
    accepts passwords over plain HTTP (https://trino.io/docs/current/security/authentication-types.html)."""
    pattern = str(wire.setting(args, COORDINATOR_SCHEMA, "configFilePattern"))
    required = wire.setting(args, COORDINATOR_SCHEMA, "requireAuthentication") is not False
    for name, content in trino_files(args.resource_type, args.props):
        if not re.search(pattern, name):
            continue
        settings = wire.parse_properties(content)
        if settings.get("coordinator", "").lower() != "true":
            continue
        kinds = {
            k.strip().upper()
            for k in settings.get("http-server.authentication.type", "").split(",")
            if k.strip()
        }
        if required and not kinds:
            report(
                f"{name}: a Trino coordinator without http-server.authentication.type takes "
                "any user name a client sends.",
                None,
            )
        https = settings.get("http-server.https.enabled", "").lower() == "true"
        insecure = (
            settings.get("http-server.authentication.allow-insecure-over-http", "").lower()
            == "true"
        )
        if "PASSWORD" in kinds and (insecure or not https):
            report(
                f"{name}: password authentication on a coordinator whose HTTP listener accepts "
                "credentials (https disabled or allow-insecure-over-http); passwords would "
                "cross the network in clear text.",
                None,
            )


trino_file_access_control = StackValidationPolicy(
    name="trino-file-access-control",
    description=(
        "Every access-control.properties sets access-control.name=file with a "
        "security.config-file, and any workload running a Trino image has one."
    ),
    validate=validate_file_access_control,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=ACCESS_SCHEMA),
    remediation_steps=(
        "Deliver /etc/trino/access-control.properties with access-control.name=file and "
        "security.config-file pointing at rules.json."
    ),
    tags=["access", "trino"],
)

trino_rules_explicit_deny = ResourceValidationPolicy(
    name="trino-rules-explicit-deny",
    description=(
        "Every non-empty rule list of a Trino rules.json ends in an explicit deny "
        "(privileges [], allow false/none/[], owner false) that matches everyone."
    ),
    validate=validate_explicit_deny,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=RULES_SCHEMA),
    remediation_steps=(
        "Append a final rule with no user/group/catalog match that grants nothing, e.g. "
        '{"privileges": []} in tables, {"allow": "none"} in catalogs.'
    ),
    tags=["access", "trino"],
)

trino_pii_masked = ResourceValidationPolicy(
    name="trino-pii-columns-masked",
    description=(
        "In a Trino rules.json, every PII column (a name matching piiColumnPattern, or "
        '"pii": true) that a table rule for non-privileged principals lists, or that any '
        "rule of the same table lists, is masked (or allow false) for those principals."
    ),
    validate=validate_pii_masked,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=PII_SCHEMA),
    remediation_steps=(
        "Add a mask expression to the column (e.g. 'regexp_replace(email, ...)') or restrict "
        "the rule to a group listed in privilegedPrincipals."
    ),
    tags=["access", "trino", "pii"],
)

trino_writers_unmasked = ResourceValidationPolicy(
    name="trino-writers-unmasked",
    description=(
        "No Trino table rule grants INSERT, UPDATE or DELETE together with column masks, "
        "or UPDATE together with a row filter: Trino refuses those writes."
    ),
    validate=validate_writers_unmasked,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=RULES_SCHEMA),
    remediation_steps=(
        "Give the writing group its own rule for the table, before the readers' rules, "
        "without masks (and without a row filter when it updates)."
    ),
    tags=["access", "trino"],
)

trino_catalog_not_for_everyone = ResourceValidationPolicy(
    name="trino-catalog-not-for-everyone",
    description=(
        "Every Trino catalog rule that grants access, and every table rule that grants a "
        "whole catalog, names a user, group or role."
    ),
    validate=validate_catalog_not_for_everyone,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.HIGH,
    config_schema=PolicyConfigSchema(properties=RULES_SCHEMA),
    remediation_steps=(
        'Add "group" (or "user"/"role") to the rule, e.g. {"group": "analysts", '
        '"catalog": "lake", "allow": "read-only"}.'
    ),
    tags=["access", "trino"],
)

trino_coordinator_authentication = ResourceValidationPolicy(
    name="trino-coordinator-authentication",
    description=(
        "Every Trino coordinator config.properties sets http-server.authentication.type, "
        "and password authentication runs over HTTPS only."
    ),
    validate=validate_coordinator_authentication,
    enforcement_level=EnforcementLevel.MANDATORY,
    severity=Severity.CRITICAL,
    config_schema=PolicyConfigSchema(properties=COORDINATOR_SCHEMA),
    remediation_steps=(
        "Set http-server.authentication.type (e.g. PASSWORD) with http-server.https.enabled="
        "true and without http-server.authentication.allow-insecure-over-http."
    ),
    tags=["access", "trino", "authentication"],
)

POLICIES = [
    trino_file_access_control,
    trino_rules_explicit_deny,
    trino_pii_masked,
    trino_writers_unmasked,
    trino_catalog_not_for_everyone,
    trino_coordinator_authentication,
]
"""The access policies."""
