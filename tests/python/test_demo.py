"""The main job and a new user's first steps, run as the user runs them: real dbt builds.

`mailroom demo` end to end on a small world, `dbt build --select +MART` on a
fresh warehouse, and a build and summary of a warehouse that has no data yet.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailroom import runner as mailroom_runner
from mailroom.cli import app
from mailroom.generator import WorldConfig, generate_world
from mailroom.warehouse import connect, ensure_raw_schema

pytestmark = pytest.mark.slow
cli = CliRunner()


def said(result) -> str:
    """The command's output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def test_demo_runs_the_main_job_end_to_end(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "data" / "warehouse.duckdb"))
    result = cli.invoke(app, ["demo", "--people", "400", "--seed", "3"])
    mailroom_runner.release_warehouse()
    assert result.exit_code == 0, result.output[-3000:]
    text = said(result)

    # The world, the build and its summary.
    assert "truth written to data/truth/" in text
    assert "training run" in text and "vars: as_of_date=2026-09-30" in text
    with connect(tmp_path / "data" / "warehouse.duckdb", read_only=True) as con:
        persons, scored, valued, profiles = con.execute(
            "select (select count(*) from marts.dim_customers), "
            "(select count(distinct person_id) from marts.fct_propensity_scores), "
            "(select count(*) from marts.fct_customer_value), "
            "(select count(*) from marts.sync_esp__profiles)"
        ).fetchone()
    assert persons > 300 and scored > 0 and valued > 0 and profiles > 0
    assert f"persons {persons:,};" in text and f"persons scored {scored:,};" in text
    assert "empty:" not in text

    # The build shows its progress by stage, not dbt's line per node, and no warning.
    assert re.search(r"\[(\d+)/\1\] done in \d+ s", result.output), result.output[-3000:]
    stages = re.findall(r"^ +(\w+) +(\d+) models +[\d.]+ s$", result.output, re.MULTILINE)
    assert [s for s, _ in stages][:3] == ["staging", "identity", "features"], stages
    assert "scoring" in dict(stages) and "activation" in dict(stages)
    assert len(re.findall(r"\[ *\d+/\d+\] +\d+%", result.output)) <= 9
    assert "START " not in result.output and "OK created" not in result.output
    assert "Deprecation" not in result.output and "deprecat" not in result.output.lower()

    # What the ESP should receive, as files.
    sync_dir = tmp_path / "data" / "sync"
    files = {p.name: p for p in sync_dir.rglob("*.csv")}
    profile_files = [p for name, p in files.items() if "profiles" in name]
    assert profile_files, sorted(files)
    with profile_files[0].open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == profiles

    # The serving snapshot the profile API reads.
    serving = tmp_path / "data" / "serving"
    current = serving / (serving / "CURRENT").read_text().strip()
    with sqlite3.connect(current) as db:
        assert profiles <= db.execute("select count(*) from profiles").fetchone()[0] <= persons

    # The dashboard: one self-contained page with charts and the as-of date.
    page = (tmp_path / "data" / "dashboard" / "index.html").read_text()
    assert "2026-09-30" in page and page.count("plotly") > 3
    assert "dashboard written to data/dashboard/index.html" in text


def test_select_upstream_of_a_mart_builds_on_a_fresh_warehouse(tmp_path: Path, monkeypatch) -> None:
    """`dbt build --select +MART` runs only tests whose parents it builds (indirect selection).

    The identity bridge here; `+fct_propensity_scores` and the other marts of
    the backtest's prediction build run on a fresh warehouse in test_backtest.
    """
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    generate_world(WorldConfig(people=300, chunk_size=300, seed=5), warehouse, tmp_path / "truth")
    result = mailroom_runner.dbt_build(select="+bdg_person_source_records", target="dev")
    failed = [(n.unique_id, n.message) for n in result.nodes if n.status in ("error", "fail")]
    assert result.success and not failed, (failed[:5], result.error)
    tests = [n for n in result.nodes if n.resource_type == "test"]
    assert len(tests) > 20  # the selection's own tests ran
    # and none whose parents it did not build: nothing downstream of the bridge
    assert not [n for n in result.nodes if "propensity" in n.unique_id]
    mailroom_runner.release_warehouse()
    with connect(warehouse, read_only=True) as con:
        assert con.execute("select count(*) from marts.bdg_person_source_records").fetchone()[0] > 0


def test_build_and_summary_of_a_warehouse_without_data(tmp_path: Path, monkeypatch) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    with connect(warehouse) as con:
        ensure_raw_schema(con)
    result = cli.invoke(app, ["summary"])
    assert result.exit_code == 0, result.output
    assert "nothing built yet" in said(result)

    result = cli.invoke(
        app, ["build", "--as-of", "2026-06-30", "--var", "attribution_window_days=5"]
    )
    mailroom_runner.release_warehouse()
    assert result.exit_code == 0, result.output[-3000:]
    text = said(result)
    assert "vars: as_of_date=2026-06-30, attribution_window_days=5" in text
    assert "persons 0;" in text and "empty: persons, persons with features" in text
    assert "raw rows 0 = staged 0" in text

    result = cli.invoke(app, ["summary"])
    assert result.exit_code == 0, result.output
    assert "empty: persons" in said(result)


def test_build_refuses_a_malformed_var() -> None:
    result = cli.invoke(app, ["build", "--var", "no_equals_sign"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_vars_are_read_as_yaml() -> None:
    from mailroom.cli import _parse_vars

    assert _parse_vars(["a=90", "b=true", "c=x y", "d=[1, 2]", "e="]) == {
        "a": 90,
        "b": True,
        "c": "x y",
        "d": [1, 2],
        "e": None,
    }
    dates = _parse_vars(["as_of_date=2026-01-31"])
    assert dates == {"as_of_date": "2026-01-31"} and json.dumps(dates)
