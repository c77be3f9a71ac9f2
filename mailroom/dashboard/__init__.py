"""The marketing dashboard: one self-contained HTML file built from the marts.

`build_dashboard()` reads the warehouse (read-only, aggregates only: no
personal data reaches the page), lays out each section with plotly charts
next to tables, and writes a single HTML file with plotly.js inlined, so it
opens offline and can be mailed or hosted as a static file. Sections whose
marts are missing or empty show a "no data" panel; the page always renders.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml
from plotly.offline import get_plotlyjs

from mailroom import PROJECT_DIR
from mailroom.dashboard import sections as sec
from mailroom.dashboard.page import Section, esc, fmt_date, no_data, page
from mailroom.warehouse import connect, warehouse_path

DEFAULT_OUTPUT = Path("data/dashboard/index.html")
TITLE = "mailroom · marketing dashboard"


@dataclass
class DashboardResult:
    output: Path
    seconds: float
    size_bytes: int
    as_of: dt.date | None
    sections: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)
    # panels that said "no data" (data-no-data keys: a missing or empty mart)
    panels_without_data: list[str] = field(default_factory=list)
    # section -> the database error that stopped it (the page still renders)
    errors: dict[str, str] = field(default_factory=dict)


def reporting_currency() -> str:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    return str(project.get("vars", {}).get("reporting_currency") or "EUR")


def build_dashboard(
    warehouse: Path | None = None,
    output: Path = DEFAULT_OUTPUT,
    currency: str | None = None,
) -> DashboardResult:
    """Write the dashboard of `warehouse` (default $WAREHOUSE_PATH) to `output`."""
    started = time.perf_counter()
    path = Path(warehouse or warehouse_path())
    if not path.exists():
        raise FileNotFoundError(
            f"no warehouse at {path}: run `mailroom demo` or `mailroom build` first"
        )
    with connect(path, read_only=True) as con:
        reader = sec.Reader(con, currency or reporting_currency())
        as_of = sec.as_of_date(reader)
        built = [guarded("overview", "Headline", lambda: sec.overview(reader, as_of))]
        for key, builder in sec.SECTION_BUILDERS.items():
            built.append(
                guarded(key, key.replace("_", " ").capitalize(), lambda b=builder: b(reader))
            )
    sections = [s for s, _ in built]
    errors = {s.key: e for s, e in built if e}
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta = (
        f"As of <strong>{esc(fmt_date(as_of))}</strong> · generated {esc(generated)} · "
        f"warehouse {esc(path.name)} · amounts in {esc(reader.currency)}"
    )
    html = page(
        TITLE,
        meta,
        sections,
        get_plotlyjs(),
        "Aggregates only: no personal data is on this page. Built by `mailroom dashboard` "
        "from the warehouse's marts.",
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    return DashboardResult(
        output=output,
        seconds=time.perf_counter() - started,
        size_bytes=output.stat().st_size,
        as_of=as_of,
        sections=[s.key for s in sections],
        charts=[c for s in sections for c in s.charts],
        panels_without_data=[
            key for s in sections for key in re.findall(r'data-no-data="([^"]+)"', s.html())
        ],
        errors=errors,
    )


def guarded(key: str, title: str, build: Callable[[], Section]) -> tuple[Section, str | None]:
    """Build one section; a database error (a mart without an expected column, say)
    becomes that section's message instead of stopping the page."""
    try:
        return build(), None
    except duckdb.Error as exc:
        s = Section(key, title)
        message = str(exc).splitlines()[0]
        s.add(no_data(f"This section could not be read from the warehouse: {message}", key))
        s.has_data = False
        return s, message


__all__ = ["DEFAULT_OUTPUT", "DashboardResult", "build_dashboard"]
