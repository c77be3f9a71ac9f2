"""The semantic layer answers through the real MetricFlow CLI (`mf`) on the built
DuckDB warehouse, and its answers equal the same questions asked in SQL of the marts.

The `mf` commands run at once on the profile's read-only `reader` target (each
spends most of its seconds importing MetricFlow and dbt), from a scratch copy of
the project's root so that other dbt runs writing target/ cannot change the
semantic manifest under them.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailroom import PROJECT_DIR, runner

MF = Path(sys.executable).parent / "mf"
PROJECT_ENTRIES = ("dbt_project.yml", "profiles.yml", "models", "python_models", "macros", "seeds")

QUERIES = {
    # every metric sliced by the person's primary segment (facts join dim_customers)
    "by_segment": [
        "--metrics",
        "revenue,orders,average_order_value,customers,contactable_customers,"
        "visits,converting_visits,visit_conversion_rate",
        "--group-by",
        "person__primary_segment",
    ],
    # a ratio metric over time and a person dimension
    "open_rate": [
        "--metrics",
        "open_rate,click_rate,email_deliveries",
        "--group-by",
        "metric_time__month,person__lifecycle_stage",
    ],
    # segment sizes by the segment entity, with the segment's name
    "segments": [
        "--metrics",
        "segment_members,primary_segment_members",
        "--group-by",
        "segment,segment__segment_name",
    ],
}


@dataclass
class MfRun:
    args: list[str]
    returncode: int
    output: str
    seconds: float
    rows: list[dict[str, str]]


@pytest.fixture(scope="module")
def mf(built_world, tmp_path_factory) -> dict[str, MfRun]:
    """Run `mf validate-configs` and the QUERIES against the built warehouse."""
    assert MF.exists(), f"the MetricFlow CLI is not installed at {MF} (dbt-metricflow)"
    res = runner.invoke_dbt(["parse", "--log-level", "none"], target="dev")
    assert res.success, res.exception
    manifest = json.loads((runner.target_dir() / "semantic_manifest.json").read_text())
    relations = {m["node_relation"]["database"] for m in manifest["semantic_models"]}
    assert relations == {built_world.warehouse.stem}, relations  # the file mf will read

    work = tmp_path_factory.mktemp("mf")
    project = work / "project"
    project.mkdir()
    for entry in PROJECT_ENTRIES:
        (project / entry).symlink_to(PROJECT_DIR / entry)
    (project / "target").mkdir()
    (project / "target" / "semantic_manifest.json").write_text(json.dumps(manifest))
    env = {
        **os.environ,
        "DBT_PROJECT_DIR": str(project),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        # read-only: the mf processes below can all open the file at once
        "DBT_TARGET": "reader",
        "WAREHOUSE_PATH": str(built_world.warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    runner.release_warehouse()  # in-process dbt's handle would lock mf out of the file

    commands = {"validate": ["validate-configs"]}
    for name, args in QUERIES.items():
        commands[name] = ["query", *args, "--csv", str(work / f"{name}.csv")]
    procs = {}
    for name, args in commands.items():
        log = (work / f"{name}.log").open("w")
        proc = subprocess.Popen(
            [str(MF), *args], cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        procs[name] = (proc, log, time.perf_counter())
    runs = {}
    deadline = time.perf_counter() + 600
    while procs and time.perf_counter() < deadline:
        for name, (proc, log, started) in list(procs.items()):
            if proc.poll() is None:
                continue
            seconds = time.perf_counter() - started
            log.close()
            rows = []
            result_file = work / f"{name}.csv"
            if result_file.exists():
                with result_file.open() as f:
                    rows = list(csv.DictReader(f))
            output = (work / f"{name}.log").read_text()
            runs[name] = MfRun(commands[name], proc.returncode, output, seconds, rows)
            print(f"mf {name}: {seconds:.1f}s, {len(rows)} rows")  # shown with -rP
            del procs[name]
        time.sleep(0.1)
    for proc, _, _ in procs.values():
        proc.kill()
    assert not procs, f"mf did not finish in 10 minutes: {sorted(procs)}"
    return runs


def ok(run: MfRun) -> list[dict[str, str]]:
    assert run.returncode == 0, f"mf {' '.join(run.args)} failed:\n{run.output[-3000:]}"
    assert run.rows, f"mf {' '.join(run.args)} returned no rows:\n{run.output[-2000:]}"
    return run.rows


def num(value: str) -> float | None:
    return None if value in ("", "None", "nan") else float(value)


def test_validate_configs_passes(mf) -> None:
    run = mf["validate"]
    assert run.returncode == 0, run.output[-3000:]
    assert "ERRORS: 0" in run.output and "against data warehouse" in run.output
    assert "FUTURE_ERRORS: 0" in run.output


def test_metrics_by_primary_segment_equal_sql(mf, built_world) -> None:
    rows = {r["person__primary_segment"] or None: r for r in ok(mf["by_segment"])}
    orders = {
        segment: (float(revenue), n)
        for segment, revenue, n in built_world.query(
            """
            select
                coalesce(dim_customers.primary_segment_id, 'none'),
                sum(case when fct_orders.status = 'completed'
                    then fct_orders.total_amount_reporting else 0 end),
                count(*) filter (where fct_orders.status = 'completed')
            from marts.fct_orders
            left join marts.dim_customers on fct_orders.person_id = dim_customers.person_id
            group by 1
            """
        )
    }
    customers = {
        segment: (n, contactable)
        for segment, n, contactable in built_world.query(
            """
            select coalesce(primary_segment_id, 'none'), count(*),
                count(*) filter (where is_email_contactable)
            from marts.dim_customers group by 1
            """
        )
    }
    visits = {
        segment: (n, converting)
        for segment, n, converting in built_world.query(
            """
            select
                coalesce(dim_customers.primary_segment_id, 'none'),
                count(distinct fct_web_events.session_id),
                count(distinct fct_web_events.session_id) filter (
                    where fct_web_events.event_type = 'checkout' and fct_web_events.order_id is not null
                )
            from marts.fct_web_events
            left join marts.dim_customers on fct_web_events.person_id = dim_customers.person_id
            group by 1
            """
        )
    }
    assert set(rows) == set(orders) | set(customers) | set(visits)
    assert len(customers) >= 5  # several segments, not one group
    for segment, row in rows.items():
        revenue, n_orders = orders.get(segment, (0.0, 0))
        # a segment without orders has no revenue row in MetricFlow (null), 0 in SQL
        assert (num(row["revenue"]) or 0.0) == pytest.approx(revenue), segment
        assert (num(row["orders"]) or 0) == n_orders, segment
        if n_orders:
            assert num(row["average_order_value"]) == pytest.approx(revenue / n_orders)
        n, contactable = customers.get(segment, (0, 0))
        assert (num(row["customers"]) or 0) == n, segment
        assert (num(row["contactable_customers"]) or 0) == contactable, segment
        n_visits, converting = visits.get(segment, (0, 0))
        assert (num(row["visits"]) or 0) == n_visits, segment
        assert (num(row["converting_visits"]) or 0) == converting, segment
        if n_visits:
            assert num(row["visit_conversion_rate"]) == pytest.approx(converting / n_visits)
    # totals: the semantic layer's revenue is the marts' revenue
    (total,) = built_world.query(
        "select sum(total_amount_reporting) from marts.fct_orders where status = 'completed'"
    )[0]
    assert sum(num(r["revenue"]) or 0 for r in rows.values()) == pytest.approx(float(total))


def test_open_rate_by_month_and_lifecycle_equals_sql(mf, built_world) -> None:
    rows = ok(mf["open_rate"])
    expected = {
        (month.strftime("%Y-%m-%d"), stage): (deliveries, opens, clicks)
        for month, stage, deliveries, opens, clicks in built_world.query(
            """
            select
                date_trunc('month', fct_email_events.event_at),
                dim_customers.lifecycle_stage,
                count(*) filter (where event_type = 'delivered' and is_first_of_type),
                count(*) filter (where event_type = 'open' and is_first_of_type),
                count(*) filter (where event_type = 'click' and is_first_of_type)
            from marts.fct_email_events
            left join marts.dim_customers on fct_email_events.person_id = dim_customers.person_id
            group by 1, 2
            """
        )
    }
    got = {(r["metric_time__month"][:10], r["person__lifecycle_stage"] or None): r for r in rows}
    assert set(got) == set(expected)
    assert len({month for month, _ in got}) >= 12  # many months
    compared = 0
    for key, (deliveries, opens, clicks) in expected.items():
        row = got[key]
        assert (num(row["email_deliveries"]) or 0) == deliveries, key
        if deliveries:
            assert num(row["open_rate"]) == pytest.approx(opens / deliveries), key
            assert num(row["click_rate"]) == pytest.approx(clicks / deliveries), key
            compared += 1
        else:
            assert num(row["open_rate"]) is None, key  # no deliveries: no rate, not 0
    assert compared >= 20


def test_segment_sizes_equal_sql(mf, built_world) -> None:
    rows = {r["segment"]: r for r in ok(mf["segments"])}
    expected = {
        segment: (name, members, primary)
        for segment, name, members, primary in built_world.query(
            "select segment_id, segment_name, member_count, primary_member_count "
            "from marts.dim_segments where member_count > 0"
        )
    }
    assert set(rows) == set(expected)
    for segment, (name, members, primary) in expected.items():
        assert rows[segment]["segment__segment_name"] == name
        assert num(rows[segment]["segment_members"]) == members
        assert num(rows[segment]["primary_segment_members"]) == primary
