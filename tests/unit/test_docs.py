"""The docs a clone gets are whole: every relative link in README and docs/ resolves."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_relative_links_resolve_inside_the_repository() -> None:
    broken = []
    for document in _documents():
        for target in LINK.findall(document.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (document.parent / target.split("#")[0]).resolve()
            if not path.exists() or not path.is_relative_to(REPO):
                broken.append(f"{document.relative_to(REPO)}: {target}")
    assert broken == []


def test_readme_points_at_the_architecture_in_the_repository() -> None:
    """It used to point at ../shared/DESIGN.md, which a clone does not have."""
    readme = (REPO / "README.md").read_text()
    assert "(docs/architecture.md)" in readme
    assert "../" not in readme
    assert (REPO / "docs" / "architecture.md").read_text().startswith("# Architecture")
