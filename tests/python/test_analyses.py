"""Every analysis in analyses/ compiles with dbt and runs on the built warehouse,
and what it returns makes sense against the marts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from mailroom import PROJECT_DIR, runner


@pytest.fixture(scope="module")
def analyses(built_world) -> dict[str, tuple[list[str], list[dict]]]:
    """Compile every analysis in one `dbt compile` and run each compiled query."""
    res = runner.invoke_dbt(
        ["compile", "--select", "resource_type:analysis", "--log-level", "none"], target="dev"
    )
    assert res.success, res.exception
    compiled = {r.node.name: r.node.compiled_code for r in res.result.results}
    runner.release_warehouse()
    out = {}
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        for name, sql in compiled.items():
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description]
            out[name] = (columns, [dict(zip(columns, row, strict=True)) for row in cur.fetchall()])
    return out


def test_every_analysis_compiles_runs_and_returns_rows(analyses) -> None:
    files = {p.stem for p in (PROJECT_DIR / "analyses").glob("*.sql")}
    assert {"segment_overlap", "segment_performance", "cohort_retention"} <= files
    assert set(analyses) == files
    for name, (_, rows) in analyses.items():
        assert rows, f"analysis {name} returned no rows on the sample world"


def test_segment_performance(analyses, built_world) -> None:
    _, rows = analyses["segment_performance"]
    segments = {
        s: (members, priority)
        for s, members, priority in built_world.query(
            "select segment_id, member_count, priority from marts.dim_segments"
        )
    }
    assert {r["segment_id"] for r in rows} == set(segments)
    assert [r["priority"] for r in rows] == sorted(p for _, p in segments.values())
    contactable = dict(
        built_world.query(
            """
            select fct_segment_memberships.segment_id, count(*)
            from marts.fct_segment_memberships
            inner join marts.dim_customers
                on fct_segment_memberships.person_id = dim_customers.person_id
            where dim_customers.is_email_contactable
            group by 1
            """
        )
    )
    for r in rows:
        assert r["member_count"] == segments[r["segment_id"]][0]
        assert r["contactable_member_count"] == contactable.get(r["segment_id"], 0)
        assert 0 <= r["contactable_member_count"] <= r["member_count"]
        assert r["orders_90d"] >= 0 and r["revenue_90d"] >= 0
        for rate in ("open_rate_90d", "click_rate_90d", "avg_purchase_score"):
            assert r[rate] is None or 0 <= r[rate] <= 1, (r["segment_id"], rate, r[rate])
        if r["open_rate_90d"] is not None:
            assert r["click_rate_90d"] <= 1 and r["email_deliveries_90d"] > 0
    by_segment = {r["segment_id"]: r for r in rows}
    # recent buyers ordered in the last 30 days: every one of them bought in the last 90
    recent = by_segment["recent_buyers"]
    assert recent["orders_90d"] >= recent["member_count"] > 0
    # one figure re-derived from the marts: the recent buyers' revenue of the 90 days
    as_of = built_world.query("select max(as_of_date) from marts.dim_customers")[0][0]
    (revenue,) = built_world.query(
        f"""
        select coalesce(sum(fct_orders.total_amount_reporting), 0)
        from marts.fct_orders
        inner join marts.fct_segment_memberships
            on fct_orders.person_id = fct_segment_memberships.person_id
        where fct_segment_memberships.segment_id = 'recent_buyers'
            and fct_orders.status = 'completed'
            and cast(fct_orders.ordered_at as date) > date '{as_of}' - interval 90 day
            and cast(fct_orders.ordered_at as date) <= date '{as_of}'
        """
    )[0]
    assert float(recent["revenue_90d"]) == pytest.approx(float(revenue))


def test_cohort_retention(analyses, built_world) -> None:
    columns, rows = analyses["cohort_retention"]
    assert columns[:2] == ["cohort_month", "month_number"]
    as_of = built_world.query("select max(as_of_date) from marts.dim_customers")[0][0]
    as_of_month = as_of.replace(day=1)
    cohorts: dict[dt.date, list[dict]] = {}
    for r in rows:
        cohorts.setdefault(r["cohort_month"], []).append(r)
        assert 0 <= r["month_number"] <= 12
        assert 0.0 <= r["retention_share"] <= 1.0
        assert r["ordering_customers"] <= r["cohort_size"]
        assert r["activity_month"] <= as_of  # not observed yet: not listed
        assert r["is_partial_month"] == (r["activity_month"] == as_of_month)
    assert len(cohorts) >= 12
    for month, months in cohorts.items():
        numbers = [m["month_number"] for m in months]
        assert numbers == list(range(len(numbers))), month  # 0, 1, 2... without gaps
        assert months[0]["retention_share"] == 1.0  # month 0: everyone ordered
        observed = (as_of_month.year - month.year) * 12 + as_of_month.month - month.month
        assert len(numbers) == min(12, observed) + 1
    # the cohorts hold every person with a completed order, once
    (buyers,) = built_world.query(
        "select count(distinct person_id) from marts.fct_orders "
        "where status = 'completed' and person_id is not null"
    )[0]
    assert sum(ms[0]["cohort_size"] for ms in cohorts.values()) == buyers
    # someone comes back: retention after month 0 is not all zero
    assert any(r["retention_share"] > 0 for r in rows if r["month_number"] > 0)


def test_segment_overlap(analyses) -> None:
    _, rows = analyses["segment_overlap"]
    for r in rows:
        assert r["segment_id"] < r["other_segment_id"]
        assert 0 < r["jaccard"] <= 1
        assert r["shared_member_count"] <= min(r["member_count"], r["other_member_count"])


def test_analyses_are_documented() -> None:
    import yaml

    documented = {
        a["name"]: a
        for a in yaml.safe_load((PROJECT_DIR / "analyses/_analyses.yml").read_text())["analyses"]
    }
    for path in Path(PROJECT_DIR / "analyses").glob("*.sql"):
        assert documented.get(path.stem, {}).get("description"), path.name
