"""Compare two renders resource by resource: what a change adds, removes or modifies.

Used for pull-request comments that need no credentials: render the base and the head,
then `dataplatform diff base.json head.json`. Resources are matched by type and logical name
without the stack's prefix, so two stacks (dev vs prod) can be compared too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ops.render_file import load_render_file

Resource = dict[str, Any]


def load_render(source: str) -> dict[str, Any]:
    """A render from a JSON file, or rendered now when `source` names a stack.

    A source that ends in `.json` or names an existing path is a file (`UserError` when
    it is not a render); anything else is a stack name (`UserError` when it has no
    `Pulumi.<stack>.yaml`).
    """
    path = Path(source)
    if path.suffix == ".json" or path.exists():
        return load_render_file(path)
    from ops.render import render_stack

    return json.loads(render_stack(source).to_json())


PLATFORM_TYPE = "dataplatform:platform:DataPlatform"


def _stack_prefix(render: dict[str, Any]) -> str:
    """The naming prefix of a render, read off its `DataPlatform` component (`<prefix>-platform`)."""
    names = [r["name"] for r in render["resources"] if r["type"] == PLATFORM_TYPE]
    return names[0].removesuffix("-platform") + "-" if names else ""


def _keyed(render: dict[str, Any]) -> dict[str, Resource]:
    """Resources keyed by type and logical name without the stack prefix, so stacks compare."""
    prefix = _stack_prefix(render)
    return {f"{r['type']}::{r['name'].removeprefix(prefix)}": r for r in render["resources"]}


def _changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        paths: list[str] = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            paths += _changed_paths(before.get(key), after.get(key), sub)
        return paths
    return [] if before == after else [path or "<value>"]


def diff_renders(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Added, removed and changed resources (with the changed input/option paths) from a to b."""
    before = _keyed(a)
    after = _keyed(b)
    changed = {}
    for key in sorted(set(before) & set(after)):
        paths = _changed_paths(
            {"inputs": before[key]["inputs"], "options": before[key]["options"]},
            {"inputs": after[key]["inputs"], "options": after[key]["options"]},
        )
        if paths:
            changed[key] = paths
    return {
        "from": a.get("stack"),
        "to": b.get("stack"),
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": changed,
    }


def format_diff(changes: dict[str, Any]) -> str:
    """A Markdown summary suitable for a pull-request comment."""
    lines = [
        f"### Infra diff {changes['from']} -> {changes['to']}",
        f"{len(changes['added'])} to add, {len(changes['changed'])} to change, "
        f"{len(changes['removed'])} to remove",
    ]
    for marker, title in (("+", "added"), ("-", "removed")):
        lines += [f"{marker} {key}" for key in changes[title]]
    for key, paths in changes["changed"].items():
        shown = ", ".join(paths[:8]) + (f" (+{len(paths) - 8} more)" if len(paths) > 8 else "")
        lines.append(f"~ {key}: {shown}")
    return "\n".join(lines)
