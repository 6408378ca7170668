"""Read a saved render (`dataplatform render --out FILE`) back, checking that it is one.

`check --resources FILE` and `diff A B` accept any file name, so the document is
validated before use: JSON, an object with `stack`, `project` and a `resources` list
whose entries carry at least `urn`, `type`, `name` (strings) and `inputs` (an object).
Anything else is a `UserError` naming the file and the first key that is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.errors import UserError
from ops.errors import STACK_NAME, read_user_file

_WHAT = "a render JSON written by `dataplatform render --out`"


class _Resource(BaseModel):
    """One resource of a render; fields the check and the diff read, others kept as they are."""

    model_config = ConfigDict(extra="allow", strict=True)

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    options: dict[str, Any] = Field(default_factory=dict)
    parent: str | None = None
    provider: str | None = None
    dependencies: list[str] = Field(default_factory=list)
    property_dependencies: dict[str, list[str]] = Field(default_factory=dict)


class _Render(BaseModel):
    """The document `Render.to_json` writes."""

    model_config = ConfigDict(extra="allow", strict=True)

    stack: str = Field(pattern=STACK_NAME.pattern)
    project: str
    resources: list[_Resource]


def _where(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "the document"


def parse_render(document: Any, source: str) -> dict[str, Any]:
    """A decoded JSON value checked to be a render; `UserError` naming `source` and the key."""
    if not isinstance(document, dict):
        kind = "list" if isinstance(document, list) else type(document).__name__
        raise UserError(f"{source}: expected {_WHAT} (a JSON object), got a {kind}")
    try:
        render = _Render.model_validate(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        message = "required key is missing" if first["type"] == "missing" else first["msg"]
        raise UserError(
            f"{source}: not a render: {_where(tuple(first['loc']))}: {message} (expected {_WHAT})"
        ) from None
    return render.model_dump()


def load_render_file(path: Path) -> dict[str, Any]:
    """The render saved in `path`, validated; `UserError` for a missing, non-JSON or other file."""
    text = read_user_file(path, _WHAT)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            f" (expected {_WHAT})"
        ) from None
    return parse_render(document, str(path))
