"""`mailroom docs` (`make docs`): the dbt docs site builds, with the overview and the catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import RUNNER

from mailroom import PROJECT_DIR, runner
from mailroom.cli import app


def test_docs_site_builds_with_the_overview_and_the_catalog(built_world) -> None:
    result = RUNNER.invoke(app, ["docs"])
    runner.release_warehouse()
    assert result.exit_code == 0, result.output[-3000:]
    site = runner.target_dir() / "static_index.html"
    assert f"docs site written to {site}" in " ".join(result.output.split())
    html = site.read_text()
    # one file: the manifest with the overview, and the catalog, inside the page
    assert "Warehouse-native e-mail personalization" in html
    assert "rpt_identity_review_pairs" in html
    catalog = json.loads((runner.target_dir() / "catalog.json").read_text())
    assert "model.mailroom.dim_customers" in catalog["nodes"]
    columns = catalog["nodes"]["model.mailroom.dim_customers"]["columns"]
    assert "person_id" in columns


LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _links(page: Path) -> list[Path]:
    """The targets of the relative Markdown links of a page (web links left out)."""
    return [
        (page.parent / target).resolve()
        for target, _ in LINK.findall(page.read_text())
        if "://" not in target and not target.startswith("mailto:")
    ]


def test_every_docs_page_is_reachable_from_the_readme_and_every_link_resolves() -> None:
    pages = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    broken = [
        f"{page.relative_to(PROJECT_DIR)} -> {target}"
        for page in pages
        for target in _links(page)
        if not target.exists()
    ]
    assert not broken, broken
    seen, todo = set(), [PROJECT_DIR / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md" or not page.exists():
            continue
        seen.add(page)
        todo.extend(t for t in _links(page) if t.parent == PROJECT_DIR / "docs")
    unreachable = [p.name for p in pages[1:] if p.resolve() not in seen]
    assert not unreachable, unreachable
