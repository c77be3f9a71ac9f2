"""The marketing dashboard, generated from a real build and opened in headless Chromium.

The key numbers read back from the DOM Chromium rendered must equal the same
questions asked in SQL of the marts; every chart must have been drawn by
plotly (its SVG and marks in the DOM, no script error); the page must be
self-contained and free of personal data; missing or empty marts must give
"no data" panels, not a crash. The screenshot is kept in
test-output/dashboard.png (a CI artifact).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mailroom import PROJECT_DIR, runner
from mailroom.cli import app
from mailroom.dashboard import DashboardResult, build_dashboard

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--hide-scrollbars",
    "--virtual-time-budget=20000",
]
WINDOW_WIDTH = 1400
SCREENSHOT = PROJECT_DIR / "test-output" / "dashboard.png"

# Test-only instrumentation injected into a copy of the page: record script
# errors from the first line on, and once the page (and plotly) has run, ask
# the browser what each chart drew.
PROBE_HEAD = (
    "<script>window.__errors = [];"
    "window.addEventListener('error', e => window.__errors.push(String(e.message)));</script>"
)
PROBE_BODY = """<script>
window.addEventListener('load', () => setTimeout(() => {
  const charts = {};
  document.querySelectorAll('[data-chart]').forEach(el => {
    charts[el.dataset.chart] = {
      svgs: el.querySelectorAll('svg.main-svg').length,
      traces: el.querySelectorAll('g.trace, g.hm').length,
      marks: el.querySelectorAll(
        'g.points path, g.point path, path.js-line, g.hm image, g.errorbar path').length,
      width: Math.round(el.getBoundingClientRect().width),
    };
  });
  const out = document.createElement('pre');
  out.id = 'test-probe';
  out.textContent = JSON.stringify({
    charts, errors: window.__errors, height: document.documentElement.scrollHeight,
    plotly: typeof window.Plotly,
  });
  document.body.appendChild(out);
}, 1000));
</script>"""


def chromium_binary(search_path: str | None = None) -> str:
    """The Chromium executable; a missing browser fails the test (never skips it)."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name, path=search_path)
        if found:
            return found
    pytest.fail(
        "Chromium is not installed, and the dashboard test needs a real browser: run "
        "`make chromium` (apt-get install --no-install-recommends chromium)",
        pytrace=False,
    )


class FigureParser(HTMLParser):
    """Collect every element with data-metric: (metric, key) -> (data-value, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[tuple[str, str | None], tuple[str, str]] = {}
        self.no_data: dict[str, str] = {}
        self._open: tuple[str, tuple, str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-metric" in a:
            self._open = (tag, (a["data-metric"], a.get("data-key")), a.get("data-value", ""), [])
        elif "data-no-data" in a:
            self._open = (tag, ("__no_data__", a["data-no-data"]), "", [])

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[3].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[0]:
            _, key, value, text = self._open
            if key[0] == "__no_data__":
                self.no_data[key[1]] = "".join(text)
            else:
                self.figures[key] = (value, "".join(text))
            self._open = None


def parse_figures(text: str) -> FigureParser:
    parser = FigureParser()
    parser.feed(text)
    return parser


@dataclass
class Rendered:
    result: DashboardResult
    source: str  # the HTML file as written
    dom: str  # the DOM after Chromium ran its scripts
    probe: dict
    figures: dict
    no_data: dict
    screenshot: Path
    seconds_generate: float
    seconds_browser: float

    def value(self, metric: str, key: str | None = None) -> str:
        assert (metric, key) in self.figures, f"no data-metric={metric!r} data-key={key!r}"
        return self.figures[(metric, key)][0]

    def number(self, metric: str, key: str | None = None) -> float:
        return float(self.value(metric, key))

    def keys(self, metric: str) -> set[str | None]:
        return {k for m, k in self.figures if m == metric}


def render(html_file: Path, work: Path, screenshot: Path | None) -> tuple[str, dict, float]:
    """Open the page in headless Chromium: (DOM after scripts, probe, seconds)."""
    browser = chromium_binary()
    page = work / "probed.html"
    source = html_file.read_text(encoding="utf-8")
    page.write_text(
        source.replace("<head>", "<head>" + PROBE_HEAD, 1).replace(
            "</body>", PROBE_BODY + "</body>"
        ),
        encoding="utf-8",
    )
    started = time.perf_counter()
    base = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={work / 'chromium-profile'}"]
    proc = subprocess.run(
        [*base, f"--window-size={WINDOW_WIDTH},1000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    probe_text = dom.split('<pre id="test-probe">', 1)[1].split("</pre>", 1)[0]
    probe = json.loads(html.unescape(probe_text))
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.unlink(missing_ok=True)
        proc = subprocess.run(
            [
                *base,
                f"--window-size={WINDOW_WIDTH},{probe['height']}",
                f"--screenshot={screenshot}",
                html_file.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    return dom, probe, time.perf_counter() - started


def open_and_check(result: DashboardResult, work: Path, screenshot: Path | None) -> Rendered:
    dom, probe, seconds = render(result.output, work, screenshot)
    parsed = parse_figures(dom)
    return Rendered(
        result=result,
        source=result.output.read_text(encoding="utf-8"),
        dom=dom,
        probe=probe,
        figures=parsed.figures,
        no_data=parsed.no_data,
        screenshot=screenshot or Path(),
        seconds_generate=result.seconds,
        seconds_browser=seconds,
    )


@pytest.fixture(scope="module")
def rendered(built_world, tmp_path_factory) -> Rendered:
    runner.release_warehouse()  # dbt's in-process handle would block a read-only open
    work = tmp_path_factory.mktemp("dashboard")
    result = build_dashboard(built_world.warehouse, work / "index.html")
    page = open_and_check(result, work, SCREENSHOT)
    print(  # shown with -rP
        f"dashboard generated in {result.seconds:.2f}s ({result.size_bytes / 1e6:.1f} MB); "
        f"Chromium dump-dom + screenshot {page.seconds_browser:.1f}s"
    )
    return page


def sql_one(world, sql: str) -> tuple:
    return world.query(sql)[0]


# --------------------------------------------------------------------------- numbers


def test_headline_numbers_equal_sql(rendered: Rendered, built_world) -> None:
    assert not rendered.result.errors
    customers, contactable, buyers, as_of = sql_one(
        built_world,
        "select count(*), count(*) filter (where is_email_contactable), "
        "count(*) filter (where order_count > 0), max(as_of_date) from marts.dim_customers",
    )
    revenue, orders = sql_one(
        built_world,
        "select sum(total_amount_reporting), count(*) from marts.fct_orders where status = 'completed'",
    )
    start = as_of - dt.timedelta(days=89)
    revenue_90d, opens, deliveries = sql_one(
        built_world,
        f"""
        select
            (select sum(total_amount_reporting) from marts.fct_orders
             where status = 'completed' and cast(ordered_at as date) between '{start}' and '{as_of}'),
            (select count(*) from marts.fct_email_events where event_type = 'open'
             and is_first_of_type and cast(event_at as date) between '{start}' and '{as_of}'),
            (select count(*) from marts.fct_email_events where event_type = 'delivered'
             and is_first_of_type and cast(event_at as date) between '{start}' and '{as_of}')
        """,
    )
    assert customers > 1000 and orders > 1000  # a real world, not an empty one
    assert rendered.value("as_of_date") == as_of.isoformat()
    assert rendered.number("customers") == customers
    assert rendered.number("contactable") == contactable
    assert rendered.number("buyers") == buyers
    assert rendered.number("revenue") == pytest.approx(float(revenue))
    assert rendered.number("orders") == orders
    assert rendered.number("average_order_value") == pytest.approx(float(revenue) / orders)
    assert rendered.number("revenue_90d") == pytest.approx(float(revenue_90d))
    assert rendered.number("open_rate_90d") == pytest.approx(opens / deliveries)
    # the text a marketer reads is the same number, formatted
    assert rendered.figures[("customers", None)][1] == f"{customers:,}"
    assert rendered.figures[("revenue", None)][1] == f"€{float(revenue):,.0f}"


def test_monthly_revenue_equals_sql(rendered: Rendered, built_world) -> None:
    months = built_world.query(
        """
        select strftime(ordered_at, '%Y-%m'), sum(total_amount_reporting), count(*)
        from marts.fct_orders where status = 'completed'
        group by 1 order by 1 desc limit 12
        """
    )
    assert rendered.keys("monthly_revenue") == {m for m, _, _ in months}
    for month, revenue, orders in months:
        assert rendered.number("monthly_revenue", month) == pytest.approx(float(revenue))
        assert rendered.number("monthly_orders", month) == orders


def test_segment_and_audience_tables_equal_sql(rendered: Rendered, built_world) -> None:
    members = dict(
        built_world.query(
            "select segment_id, count(*) from marts.fct_segment_memberships group by 1"
        )
    )
    primary = dict(
        built_world.query(
            "select segment_id, count(*) from marts.fct_segment_memberships "
            "where is_primary group by 1"
        )
    )
    segments = [r[0] for r in built_world.query("select segment_id from marts.dim_segments")]
    assert rendered.keys("segment_members") == set(segments)
    for segment in segments:
        assert rendered.number("segment_members", segment) == members.get(segment, 0)
        assert rendered.number("segment_primary_members", segment) == primary.get(segment, 0)

    audiences = built_world.query(
        """
        select audience_id, count(*), count(*) filter (where is_holdout),
            count(*) filter (where is_sendable)
        from marts.fct_audience_memberships group by 1
        """
    )
    assert audiences and rendered.keys("audience_members") == {a for a, *_ in audiences}
    for audience, n, holdout, sendable in audiences:
        assert rendered.number("audience_members", audience) == n
        assert rendered.number("audience_holdout", audience) == holdout
        assert rendered.number("audience_sendable", audience) == sendable


def test_model_tables_equal_sql(rendered: Rendered, built_world) -> None:
    tiers = built_world.query(
        "select model_name, tier, count(*) from marts.fct_propensity_scores group by 1, 2"
    )
    assert {f"{m}:{t}" for m, t, _ in tiers} == rendered.keys("tier_persons")
    for model, tier, n in tiers:
        assert rendered.number("tier_persons", f"{model}:{tier}") == n
    versions = built_world.query(
        "select model_version, roc_auc, baseline_roc_auc, pr_auc, is_champion "
        "from marts.dim_model_versions"
    )
    assert versions and rendered.keys("model_roc_auc") == {v[0] for v in versions}
    for version, auc, baseline, pr_auc, champion in versions:
        assert rendered.number("model_roc_auc", version) == pytest.approx(auc)
        assert rendered.number("model_baseline_roc_auc", version) == pytest.approx(baseline)
        assert rendered.number("model_pr_auc", version) == pytest.approx(pr_auc)
        assert rendered.value("model_is_champion", version) == str(champion).lower()
    score_psi = built_world.query(
        "select model_name, value from marts.rpt_model_monitoring "
        "where check_name = 'psi' and subject = 'score'"
    )
    for model, value in score_psi:
        assert rendered.number("score_psi", model) == pytest.approx(value)


def test_data_quality_tables_equal_sql(rendered: Rendered, built_world) -> None:
    recon = built_world.query(
        "select source_table, raw_rows, staged_rows, quarantined_rows, collapsed_duplicates "
        "from marts.rpt_source_reconciliation"
    )
    assert len(recon) == 11
    for table, raw, staged, quarantined, duplicates in recon:
        assert rendered.number("recon_raw_rows", table) == raw
        assert rendered.number("recon_staged_rows", table) == staged
        assert rendered.number("recon_quarantined_rows", table) == quarantined
        assert rendered.number("recon_collapsed_duplicates", table) == duplicates
        assert raw == staged + quarantined + duplicates
    assert rendered.number("raw_rows") == sum(r[1] for r in recon)

    reasons = built_world.query(
        " union all ".join(
            f"select quarantine_reason from staging.stg_{s}__quarantined_rows"
            for s in ("crm", "shop", "web", "esp", "privacy")
        ).join(["select quarantine_reason, count(*) from (", ") group by 1 order by 2 desc, 1"])
    )
    assert reasons, "the sample world plants defects: some rows are quarantined"
    for reason, n in reasons[:12]:
        assert rendered.number("quarantine_reason_rows", reason) == n

    persons, records = sql_one(
        built_world,
        "select (select count(*) from marts.dim_customers), "
        "(select count(*) from marts.bdg_person_source_records)",
    )
    assert rendered.number("identity_persons") == persons
    assert rendered.number("identity_records") == records


def test_campaign_section_reports_what_the_warehouse_has(rendered: Rendered, built_world) -> None:
    has_results = built_world.query(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'fct_campaign_results'"
    )[0][0]
    if not has_results:
        assert "No campaign results in this warehouse" in rendered.no_data["campaigns"]
        assert "campaign_lift" not in rendered.result.charts
        return
    # once the campaign measurement mart is built, its figures are on the page
    rows = built_world.query(
        "select campaign_id, is_holdout, variant, recipients from marts.fct_campaign_results"
    )
    assert rendered.number("campaigns") == len({r[0] for r in rows})


# --------------------------------------------------------------------------- rendering


def test_every_chart_was_drawn_by_plotly(rendered: Rendered) -> None:
    probe = rendered.probe
    assert probe["errors"] == [], probe["errors"]
    assert probe["plotly"] == "object"  # the inlined plotly.js ran
    expected = {
        "revenue_by_month",
        "email_by_month",
        "segment_sizes",
        "segment_transitions",
        "score_distribution",
        "model_quality",
        "psi",
        "audience_sizes",
        "reconciliation",
        "quarantine_reasons",
        "identity_clusters",
    }
    assert expected <= set(rendered.result.charts)
    assert set(probe["charts"]) == set(rendered.result.charts)
    for chart, drawn in probe["charts"].items():
        assert drawn["svgs"] >= 1, (chart, drawn)  # plotly built its SVG
        assert drawn["traces"] >= 1, (chart, drawn)
        assert drawn["marks"] >= 1, (chart, drawn)  # bars, lines, points or heatmap cells
        assert drawn["width"] > 300, (chart, drawn)  # laid out, not collapsed
    # the static HTML has no SVG: the browser built all of it
    assert "<svg" not in rendered.source.split("</script>", 1)[1]
    assert rendered.dom.count('class="main-svg"') >= len(expected)


def test_screenshot_is_saved(rendered: Rendered) -> None:
    data = rendered.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == WINDOW_WIDTH
    assert height == rendered.probe["height"] > 3000
    assert len(data) > 100_000  # charts and text, not a blank page


def test_page_is_self_contained_and_holds_no_personal_data(rendered: Rendered, built_world) -> None:
    source = rendered.source
    assert "<script src" not in source and "<link" not in source  # nothing fetched: opens offline
    assert "plotly.js" in source.lower() and rendered.result.size_bytes > 3_000_000
    page = source.split("</script>", 1)[1]  # everything after the inlined plotly.js
    identifiers = built_world.query(
        """
        select email from marts.dim_customers where email is not null
        union all select phone_e164 from marts.dim_customers where phone_e164 is not null
        union all select person_id from marts.dim_customers
        union all select postcode from marts.dim_customers where postcode like '% %'
        """
    )
    assert len(identifiers) > 3000
    leaked = [value for (value,) in identifiers if value in page]
    assert leaked == []
    assert "@" not in page.replace("@media", "")


# --------------------------------------------------------------------------- campaigns


CAMPAIGN_RESULTS_DDL = """
create or replace table marts.fct_campaign_results (
    campaign_id varchar, campaign_name varchar, campaign_type varchar, variant varchar,
    is_holdout boolean, first_sent_at timestamp, recipients bigint, sends bigint,
    deliveries bigint, unique_opens bigint, human_opens bigint, machine_opens bigint,
    unique_clicks bigint, unsubscribes bigint, open_rate double, human_open_rate double,
    click_rate double, attributed_orders bigint, attributed_revenue double,
    converted_recipients bigint, conversion_rate double, revenue_per_recipient double,
    conversion_lift double, conversion_lift_ci_low double, conversion_lift_ci_high double,
    is_significant boolean
)
"""
# (campaign, name, type, variant, holdout, sent, recipients, conversions, revenue, lift, low, high, significant)
CAMPAIGNS = [
    (
        "c1",
        "Autumn sale",
        "promotional",
        "A",
        False,
        "2026-09-20 08:00:00",
        1000,
        60,
        5400.0,
        0.03,
        0.012,
        0.048,
        True,
    ),
    (
        "c1",
        "Autumn sale",
        "promotional",
        "B",
        False,
        "2026-09-20 08:00:00",
        1000,
        45,
        3900.0,
        0.015,
        -0.002,
        0.032,
        False,
    ),
    (
        "c1",
        "Autumn sale",
        "promotional",
        None,
        True,
        "2026-09-20 08:00:00",
        200,
        6,
        480.0,
        None,
        None,
        None,
        None,
    ),
    (
        "c2",
        "Welcome",
        "triggered",
        None,
        False,
        "2026-08-01 07:30:00",
        300,
        9,
        700.0,
        -0.005,
        -0.03,
        0.02,
        False,
    ),
    (
        "c2",
        "Welcome",
        "triggered",
        "holdout",
        True,
        "2026-08-01 07:30:00",
        50,
        2,
        150.0,
        None,
        None,
        None,
        None,
    ),
]


def campaign_rows() -> list[tuple]:
    rows = []
    for c, name, kind, variant, holdout, sent, n, conv, revenue, lift, low, high, sig in CAMPAIGNS:
        deliveries, opens, clicks = int(n * 0.97), int(n * 0.3), int(n * 0.04)
        rows.append(
            (c, name, kind, variant, holdout, sent, n, n, deliveries, opens, int(opens * 0.8),
             opens - int(opens * 0.8), clicks, 2, opens / deliveries, int(opens * 0.8) / deliveries,
             clicks / deliveries, conv, revenue, conv, conv / n, revenue / n, lift, low, high, sig)
        )  # fmt: skip
    return rows


def test_campaign_lift_and_realized_auc_when_the_marts_have_them(
    built_world, tmp_path: Path
) -> None:
    """What the sample world cannot hold yet, on a copy of the built warehouse: a small
    fct_campaign_results (its contract) and matured realized ROC-AUC rows in
    rpt_model_monitoring. Both sections show their figures and charts in the browser."""
    runner.release_warehouse()
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_world.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(CAMPAIGN_RESULTS_DDL)
        con.executemany(
            f"insert into marts.fct_campaign_results values ({', '.join(['?'] * 26)})",
            campaign_rows(),
        )
        con.execute(
            """
            insert into marts.rpt_model_monitoring
                (model_name, model_version, check_name, subject, value, status,
                 reference_value, current_rows, positives)
            values
                ('purchase', 'purchase-v1', 'realized_roc_auc', '2026-07-01', 0.71, 'ok', 0.74, 900, 80),
                ('purchase', 'purchase-v1', 'realized_roc_auc', '2026-08-01', 0.69, 'ok', 0.74, 950, 85)
            """
        )
    result = build_dashboard(warehouse, tmp_path / "index.html")
    assert not result.errors and "campaigns" not in result.panels_without_data
    assert "campaign_lift" in result.charts
    page = open_and_check(result, tmp_path, screenshot=None)
    assert page.probe["errors"] == []
    drawn = page.probe["charts"]["campaign_lift"]
    assert drawn["svgs"] >= 1 and drawn["marks"] >= 5  # 5 group bars, 3 lift points
    assert page.number("campaigns") == 2
    assert page.number("significant_campaigns") == 1
    assert page.number("campaign_attributed_revenue") == pytest.approx(5400 + 3900 + 700)
    keys = {"c1:A", "c1:B", "c1:holdout", "c2:treated", "c2:holdout"}
    assert page.keys("campaign_recipients") == keys
    for row in campaign_rows():
        campaign, variant, holdout, n = row[0], row[3], row[4], row[6]
        key = f"{campaign}:{'holdout' if holdout else variant or 'treated'}"
        assert page.number("campaign_recipients", key) == n
        assert page.number("campaign_conversion_rate", key) == pytest.approx(row[20])
        assert page.number("campaign_revenue_per_recipient", key) == pytest.approx(row[21])
        if holdout:
            assert page.value("campaign_conversion_lift", key) == ""  # null on the holdout row
        else:
            assert page.number("campaign_conversion_lift", key) == pytest.approx(row[22])
    assert page.figures[("campaign_conversion_lift", "c1:A")][1] == "+3.00%"

    assert "realized_auc" in result.charts and "realized_auc" not in result.panels_without_data
    assert page.probe["charts"]["realized_auc"]["marks"] >= 2
    assert page.number("realized_roc_auc", "purchase:2026-07-01") == pytest.approx(0.71)
    assert page.number("realized_roc_auc", "purchase:2026-08-01") == pytest.approx(0.69)


# --------------------------------------------------------------------------- degradation


def test_empty_and_partial_warehouses_give_no_data_panels(built_world, tmp_path: Path) -> None:
    """No mart at all, then a few marts (one of them empty): the page renders, each
    missing piece says so, and what is there is still right."""
    runner.release_warehouse()
    empty = tmp_path / "empty" / "warehouse.duckdb"
    empty.parent.mkdir()
    duckdb.connect(str(empty)).close()
    result = build_dashboard(empty, tmp_path / "empty.html")
    parsed = parse_figures(result.output.read_text())
    assert result.errors == {} and result.charts == []
    assert result.as_of is None and parsed.figures[("as_of_date", None)][0] == ""
    for panel in ("customers", "orders", "segments", "propensity_scores", "audiences", "campaigns"):
        assert panel in parsed.no_data, panel
    assert "marts.dim_customers is not in this warehouse" in parsed.no_data["customers"]
    assert "No campaign results in this warehouse" in parsed.no_data["campaigns"]

    partial = tmp_path / "partial" / "warehouse.duckdb"
    partial.parent.mkdir()
    with duckdb.connect(str(partial)) as con:
        con.execute(f"attach '{built_world.warehouse}' as built (read_only)")
        con.execute("create schema marts")
        for table in ("dim_customers", "fct_orders"):
            con.execute(f"create table marts.{table} as select * from built.marts.{table}")
        con.execute(
            "create table marts.fct_audience_memberships as "
            "select * from built.marts.fct_audience_memberships where false"
        )
    result = build_dashboard(partial, tmp_path / "partial.html")
    parsed = parse_figures(result.output.read_text())
    assert result.errors == {}
    assert "revenue_by_month" in result.charts and "segment_sizes" not in result.charts
    assert "fct_audience_memberships has no rows" in parsed.no_data["audiences"]
    assert "marts.dim_segments is not in this warehouse" in parsed.no_data["segments"]
    assert "marts.fct_email_events" in parsed.no_data["email_engagement"]
    customers = built_world.query("select count(*) from marts.dim_customers")[0][0]
    assert float(parsed.figures[("customers", None)][0]) == customers


def test_a_mart_without_an_expected_column_stops_only_its_section(built_world, tmp_path) -> None:
    runner.release_warehouse()
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_world.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("alter table marts.fct_audience_memberships drop column is_sendable")
    result = build_dashboard(warehouse, tmp_path / "index.html")
    assert set(result.errors) == {"audiences"} and "is_sendable" in result.errors["audiences"]
    parsed = parse_figures(result.output.read_text())
    assert "could not be read" in parsed.no_data["audiences"]
    assert "segment_sizes" in result.charts  # the rest of the page is there


# --------------------------------------------------------------------------- command line


def test_dashboard_command(built_world, tmp_path: Path) -> None:
    runner.release_warehouse()
    cli = CliRunner()
    help_text = cli.invoke(app, ["dashboard", "--help"])
    assert help_text.exit_code == 0 and "self-contained HTML" in help_text.output
    output = tmp_path / "site" / "index.html"
    result = cli.invoke(
        app, ["dashboard", "--warehouse", str(built_world.warehouse), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "dashboard written to" in result.output and output.stat().st_size > 3_000_000
    missing = cli.invoke(app, ["dashboard", "--warehouse", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 1 and "no warehouse at" in missing.output


def test_missing_chromium_fails_the_test_instead_of_skipping(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="make chromium"):
        chromium_binary(search_path=str(tmp_path))


def test_exposure_lists_every_model_the_dashboard_reads() -> None:
    """models/marts/reporting/_reporting__exposures.yml names what sections.py queries."""
    import re

    import yaml

    from mailroom.dashboard import sections

    code = Path(sections.__file__).read_text()
    read = set(re.findall(r"\bmarts\.([a-z_]+)\b", code))
    if "stg_" in code and "__quarantined_rows" in code:
        read |= {f"stg_{s}__quarantined_rows" for s in ("crm", "shop", "web", "esp", "privacy")}
    exposures = yaml.safe_load(
        (PROJECT_DIR / "models/marts/reporting/_reporting__exposures.yml").read_text()
    )["exposures"]
    dashboard = next(e for e in exposures if e["name"] == "marketing_dashboard")
    assert dashboard["type"] == "dashboard" and dashboard["owner"]["email"]
    listed = {re.fullmatch(r"ref\('([a-z_]+)'\)", d).group(1) for d in dashboard["depends_on"]}
    # fct_campaign_results is built on another branch: listed once the model exists
    campaign_model = list(PROJECT_DIR.glob("models/**/fct_campaign_results.sql"))
    expected = read if campaign_model else read - {"fct_campaign_results"}
    assert listed == expected
