"""Mistakes an operator can make (a wrong stack name, a missing or malformed file).

The `dataplatform` commands print a `UserError` (`infra/errors.py`, shared with the
program's config errors) as one plain line (what, where, what was expected) and exit
with status 2; they never show a traceback for them.
"""

from __future__ import annotations

import re
from pathlib import Path

from infra.errors import UserError

STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""Pulumi stack names: alphanumerics, hyphens, underscores and periods."""


def check_stack_name(stack: str) -> str:
    """`stack` unchanged if it is a valid Pulumi stack name; raises `UserError` otherwise."""
    if not STACK_NAME.match(stack):
        raise UserError(
            f"{stack!r} is not a stack name: expected letters, digits, '-', '_' or '.' "
            "(the <stack> of a Pulumi.<stack>.yaml file)"
        )
    return stack


def read_user_file(path: Path, what: str) -> str:
    """The text of a file the operator named; `what` says what it should be ("a render JSON").

    Raises `UserError` naming the path when it is missing, a directory, unreadable or
    not UTF-8 text.
    """
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file (expected {what})") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory (expected {what})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text (expected {what})") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read ({error.strerror}; expected {what})") from None
