"""SCRAM-SHA-256 verifiers: how role passwords reach PostgreSQL without their clear text.

PostgreSQL stores a verifier given to CREATE/ALTER ROLE ... PASSWORD as is, so whatever
logs the statement (the `STATEMENT:` line of a failed one, `log_statement`,
pg_stat_statements) sees only the verifier. Format and defaults follow
src/common/scram-common.c (`scram_build_secret`) and RFC 5802/7677.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

SCRAM_ITERATIONS = 4096
"""PostgreSQL's default `scram_iterations` (src/include/common/scram-common.h)."""
SCRAM_SALT_BYTES = 16
_SCRAM = re.compile(r"^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$")


def scram_salt(seed: str) -> bytes:
    """A `SCRAM_SALT_BYTES` salt derived from a random `seed` generated once per role, so
    the verifier (and the render) stays the same until the password or the seed changes."""
    return hashlib.sha256(seed.encode()).digest()[:SCRAM_SALT_BYTES]


def scram_sha256_verifier(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802/7677, the
    format of src/common/scram-common.c `scram_build_secret`):
    `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 parts.

    Only ASCII passwords (ours are generated alphanumeric): PostgreSQL applies SASLprep,
    which leaves ASCII unchanged; anything else raises ValueError.
    """
    if not password or not password.isascii():
        raise ValueError("SCRAM verifiers are built for non-empty ASCII passwords only")
    if len(salt) < SCRAM_SALT_BYTES or iterations < SCRAM_ITERATIONS:
        raise ValueError("salt too short or too few iterations for a SCRAM verifier")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def is_scram_verifier(value: str) -> bool:
    """True when `value` has the form of a SCRAM-SHA-256 verifier."""
    return bool(_SCRAM.match(value))


def require_verifier(role: str, value: str) -> str:
    """`value` if it is a SCRAM verifier; ValueError (naming the role, not the value) if
    it looks like a clear-text password, which must never reach the server."""
    if not is_scram_verifier(value):
        raise ValueError(f"role {role!r}: password must be a SCRAM-SHA-256 verifier")
    return value
