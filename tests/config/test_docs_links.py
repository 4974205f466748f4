"""README.md is the front door and docs/ holds the rest: every link in them resolves inside the
repository (a clone has nothing beside it), and the front door stays short."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _targets(page: Path):
    inside_code = False
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside_code = not inside_code
            continue
        if inside_code:
            continue
        for target in LINK.findall(line):
            yield number, target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(page):
    broken = []
    for number, target in _targets(page):
        if re.match(r"^(https?:|mailto:|#)", target):
            continue
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(f"{page.name}:{number} {target}")
    assert not broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_points_outside_the_clone(page):
    assert "../shared" not in page.read_text()


def test_the_front_door_is_short_and_links_every_doc():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024
    for doc in PAGES[1:]:
        assert f"docs/{doc.name}" in readme, f"README.md does not link docs/{doc.name}"
