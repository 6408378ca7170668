"""Read checkov's accepted findings and judge a checkov JSON report against them.

`python scripts/checkov_findings.py skip-list docs/checkov-accepted.md` prints the check
ids accepted everywhere (comma-separated, for `checkov --skip-check`);
`python scripts/checkov_findings.py judge docs/checkov-accepted.md REPORT.json` prints
every failed check not accepted for its file and exits 1 when there is any (0 when none,
2 when the report or the table cannot be read).
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROW = re.compile(r"^\|\s*(CKV2?_[A-Z0-9_]+)\s*\|\s*([^|]+?)\s*\|\s*([^|]*?)\s*\|\s*$")


@dataclass(frozen=True)
class Accepted:
    """One accepted check: its id, where it is accepted (file globs, `*` = everywhere), why."""

    check: str
    where: tuple[str, ...]
    reason: str

    def covers(self, check: str, file_path: str) -> bool:
        """True when this acceptance covers `check` failing in `file_path`."""
        name = posixpath.basename(file_path)
        return check == self.check and any(fnmatch.fnmatch(name, glob) for glob in self.where)


def read_accepted(path: Path) -> list[Accepted]:
    """The table rows of docs/checkov-accepted.md; a row without a reason is an error."""
    rows: list[Accepted] = []
    for line in path.read_text().splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        check, where, reason = match.groups()
        if not reason:
            raise ValueError(f"{path}: {check} is accepted without a reason")
        if check == "CKV_K8S_35":
            raise ValueError(f"{path}: CKV_K8S_35 (secrets in env) must never be accepted")
        rows.append(Accepted(check, tuple(g.strip() for g in where.split(",")), reason))
    return rows


def skip_list(accepted: list[Accepted]) -> str:
    """Check ids accepted everywhere, for `--skip-check`."""
    return ",".join(a.check for a in accepted if a.where == ("*",))


def unaccepted(report: Any, accepted: list[Accepted]) -> list[str]:
    """`CHECK resource (file): title` of every failed check no row accepts."""
    reports = report if isinstance(report, list) else [report]
    found: list[str] = []
    for entry in reports:
        results = entry.get("results", {}) if isinstance(entry, dict) else {}
        for failed in results.get("failed_checks", []):
            check, path = failed.get("check_id", "?"), failed.get("file_path", "?")
            if not any(a.covers(check, path) for a in accepted):
                found.append(
                    f"{check} {failed.get('resource')} ({path}): {failed.get('check_name')}"
                )
    return found


def main(argv: list[str]) -> int:
    """CLI entry point; see the module docstring."""
    try:
        accepted = read_accepted(Path(argv[1]))
        if argv[0] == "skip-list":
            print(skip_list(accepted))
            return 0
        text = Path(argv[2]).read_text().strip()
        # checkov prints "[]"-less nothing when every framework was skipped.
        report = json.loads(text) if text else []
    except (IndexError, OSError, ValueError) as error:
        print(f"checkov_findings: {error}", file=sys.stderr)
        return 2
    remaining = unaccepted(report, accepted)
    for line in remaining:
        print(f"NOT ACCEPTED: {line}")
    return 1 if remaining else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
