"""Recognising credential material in text, whatever key or file it sits in.

Pure functions, no policies: `secrets.py` applies them to env values and config files.
Patterns follow the formats' own definitions: PEM armour (RFC 7468), AWS access key ids
(`AKIA`/`ASIA` + 16 upper-case alphanumerics, AWS IAM identifiers reference), RFC 3986
userinfo (`scheme://user:password@host`), and `password=` / `pwd=` keywords of JDBC,
ODBC and libpq connection strings.
"""

from __future__ import annotations

import re
from typing import Any

from . import wire

_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_SECRET_ACCESS_KEY = re.compile(
    r"(?i)secret[_\-]?access[_\-]?key[\"']?\s*[:=\s]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
URL_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*://[^/:@\s]+:([^@\s/]+)@")
_KEYWORD_PASSWORD = re.compile(r"(?i)(?:^|[;?&\s])(?:password|pwd)\s*=\s*([^;&\s]+)")
_REFERENCE = re.compile(
    r"^(\$\([^)]+\)|\$\{[^}]+\}|\$__(file|env)\{[^}]+\}|\{\{.+\}\}|\$[A-Z_][A-Z0-9_]*)$"
)
_HARMLESS = frozenset({"", "true", "false", "on", "off", "yes", "no", "none", "null", "~"})


def is_plain_credential(value: Any) -> bool:
    """True when a value is a literal, not a secret, unknown, reference, flag or file path."""
    if wire.is_secret_or_unknown(value) or not isinstance(value, str):
        return False
    stripped = value.strip().strip("\"'")
    if stripped.lower() in _HARMLESS or stripped.startswith("/") or wire.SECRET_MARKER in stripped:
        return False
    return not _REFERENCE.match(stripped)


def is_reference(value: str) -> bool:
    """True for `${VAR}`, `$(VAR)`, `${ENV:VAR}`, `$__file{...}`, `{{ ... }}`, `$VAR`."""
    return bool(_REFERENCE.match(value.strip().strip("\"'")))


def url_password(value: Any) -> bool:
    """True when text holds a URL whose userinfo carries a literal password."""
    if not isinstance(value, str) or wire.is_secret_or_unknown(value):
        return False
    return any(is_plain_credential(m.group(1)) for m in URL_PASSWORD.finditer(value))


def material(value: Any) -> str | None:
    """What kind of credential a text carries, or None.

    Private keys, AWS access key ids and secret access keys, URLs with a password in
    their userinfo, and connection strings with a literal `password=`/`pwd=`.
    """
    if not isinstance(value, str) or wire.is_secret_or_unknown(value):
        return None
    if _PRIVATE_KEY.search(value):
        return "a private key"
    if _ACCESS_KEY_ID.search(value):
        return "an AWS access key id"
    if _SECRET_ACCESS_KEY.search(value):
        return "an AWS secret access key"
    if url_password(value):
        return "a URL with a password"
    if any(is_plain_credential(m.group(1)) for m in _KEYWORD_PASSWORD.finditer(value)):
        return "a connection string with a password"
    return None
