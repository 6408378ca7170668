"""The error type for input a user got wrong, shared by the program and the operator commands.

`infra/config.py` raises `ConfigError` (a `UserError`) for a bad stack file; the
`dataplatform` commands (`ops/`) raise `UserError` for a wrong stack name or a missing
or malformed file, print it as one plain line and exit with status 2, never a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Input the operator got wrong; the message names the file or key and what was expected."""
