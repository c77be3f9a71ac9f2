"""`mailroom backtest`: the figures, the copy of what was known, and the leakage guard.

The end-to-end tests run the command on a small sample world, as a user
does, and check that nothing after the backtest date reaches the build that
predicts: a world whose loads really stopped on that date gives the very
same scores.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from conftest import using_warehouse
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from mailroom import backtest, runner
from mailroom.cli import app
from mailroom.generator import WorldConfig, generate_world, pending
from mailroom.warehouse import connect

cli = CliRunner()
WORLD = WorldConfig(people=800, chunk_size=400, seed=11)
HORIZON = 45  # not the default 30: the horizon must reach every model
AS_OF = WORLD.as_of - dt.timedelta(days=HORIZON)


# --------------------------------------------------------------------------- figures


def test_rank_figures_equal_the_reference_implementations() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert backtest.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert backtest.pr_auc(y, s) == pytest.approx(average_precision_score(y, s))
    assert backtest.roc_auc(np.zeros(5, dtype=int), np.arange(5.0)) is None


def test_top_shares_split_ties_at_random() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    flat = np.zeros(10)
    # every score tied: the top 20% hold 20% of the buyers on average
    assert backtest.top_share_positives(y, flat, 0.2) == pytest.approx(0.6)
    assert backtest.top_20_buyer_share(y, flat) == pytest.approx(0.2)
    assert backtest.top_decile_lift(y, flat) == pytest.approx(1.0)
    perfect = y.astype(float)
    assert backtest.top_decile_lift(y, perfect) == pytest.approx(1 / 0.3)
    assert backtest.top_20_buyer_share(y, perfect) == pytest.approx(2 / 3)


def test_intervals_cover_the_point_and_use_the_same_resamples() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    s = rng.random(400) + 0.5 * y
    figures = backtest.with_intervals(y, {"a": s, "b": s.copy()}, resamples=100, seed=1)
    for metric in backtest.METRICS:
        a, b = figures["a"][metric], figures["b"][metric]
        assert a.low <= a.value <= a.high
        assert (a.low, a.high) == (b.low, b.high)  # same rows resampled for every score


def test_recency_ranks_recent_buyers_first_and_never_buyers_last() -> None:
    import pandas as pd

    score = backtest.recency_score(pd.Series([0, 10, None, 400]))
    assert list(np.argsort(-score)) == [0, 1, 3, 2]


# --------------------------------------------------------------------------- what is copied


def test_the_copy_keeps_history_and_what_was_loaded_before_the_cutoff(tmp_path: Path) -> None:
    source = tmp_path / "source.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.orders (order_id varchar, _loaded_at timestamp)")
        con.execute(
            "insert into raw.orders values "
            "('history', '2026-12-01 08:00'),"  # the first load: history, known at event time
            "('backfill', '2026-12-01 10:00'),"  # by history_loaded_until: history too
            "('live-before', '2026-12-02 23:59'),"
            "('live-after', '2026-12-03 00:00'),"
            "('live-later', '2026-12-04 10:00')"
        )
        con.execute("create table raw.world_metadata (key varchar, value varchar)")
        con.execute("insert into raw.world_metadata values ('as_of', '2026-12-05')")
    scratch = tmp_path / "scratch.duckdb"
    counts = backtest.copy_raw(
        source, scratch, dt.datetime(2026, 12, 3), history_until="2026-12-01 12:00:00"
    )
    assert counts == {"orders": 3, "world_metadata": 1}
    with duckdb.connect(str(scratch)) as con:
        kept = {r[0] for r in con.execute("select order_id from raw.orders").fetchall()}
        assert kept == {"history", "live-before", "backfill"}
        assert "first_loaded_at" not in [
            r[0] for r in con.execute("describe raw.orders").fetchall()
        ]
    with using_warehouse(scratch):
        assert backtest.hide_loads(dt.datetime(2026, 12, 2), "2026-12-01 12:00:00") == {"orders": 1}
    with duckdb.connect(str(scratch)) as con:
        kept = {r[0] for r in con.execute("select order_id from raw.orders").fetchall()}
        assert kept == {"history", "backfill"}


def test_the_data_ends_on_the_as_of_date_else_the_last_order_else_today(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
    assert backtest.data_end(path) == dt.datetime.now(dt.UTC).date()
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.fct_orders as select timestamp '2025-12-31 18:00' as ordered_at"
        )
    assert backtest.data_end(path) == dt.date(2025, 12, 31)  # built with build --as-of
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table raw.world_metadata as select 'as_of' as key, '2026-01-15' as value"
        )
    assert backtest.data_end(path) == dt.date(2026, 1, 15)  # load --as-of, a sample world


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backtest")
    warehouse = root / "warehouse.duckdb"
    generate_world(WORLD, warehouse=warehouse, truth_dir=root / "truth")
    return warehouse


@pytest.fixture(scope="module")
def ran(world: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("backtest-out")
    before = world.stat().st_mtime_ns
    with using_warehouse(world):
        result = cli.invoke(
            app,
            [
                "backtest",
                "--as-of",
                AS_OF.isoformat(),
                "--horizon",
                str(HORIZON),
                "--output-dir",
                str(out),
                "--resamples",
                "50",
            ],
        )
    runner.release_warehouse()
    assert result.exit_code == 0, result.output[-3000:]
    assert world.stat().st_mtime_ns == before, "the user's warehouse was changed"
    return result, out


@pytest.mark.slow
def test_backtest_prints_and_writes_the_table(ran) -> None:
    result, out = ran
    text = " ".join(result.output.split())
    assert "ROC-AUC" in text and "recency" in text and "report written to" in text
    stem = f"backtest_{AS_OF:%Y%m%d}_{HORIZON}d"
    report = (out / f"{stem}.md").read_text()
    assert f"# Backtest as of {AS_OF}" in report
    assert report.count("\n| ") == 1 + len(backtest.SCORES)  # header and a row per score
    import json

    figures = json.loads((out / f"{stem}.json").read_text())
    assert figures["persons"] > 300 and 0 < figures["buyers"] < figures["persons"]
    assert figures["orders"] >= figures["buyers"]
    by_score = {s["score"]: s for s in figures["scores"]}
    # the sample world's buyers are predictable: every score ranks better than a coin
    for name in backtest.SCORES:
        assert name in report
        auc = by_score[name]["roc_auc"]
        assert 0.5 < auc["value"] <= 1 and auc["low"] <= auc["value"] <= auc["high"], name
    champion = by_score["propensity champion"]
    assert champion["actual"] == figures["buyers"] and champion["predicted"] > 0
    assert by_score["customer value"]["actual"] == figures["orders"]


@pytest.mark.slow
def test_nothing_after_the_date_reaches_the_prediction_build(ran) -> None:
    _, out = ran
    scratch = out / f"backtest_{AS_OF:%Y%m%d}_{HORIZON}d.duckdb"
    day_after = f"timestamp '{AS_OF + dt.timedelta(days=1)}'"
    with connect(scratch, read_only=True) as con:
        for table, column in (
            ("marts.fct_orders", "ordered_at"),
            ("marts.fct_orders", "known_at"),
            ("marts.fct_email_events", "known_at"),
            ("marts.fct_web_events", "known_at"),
        ):
            latest = con.execute(f"select max({column}) < {day_after} from {table}").fetchone()[0]
            assert latest, f"{table}.{column} after {AS_OF}"
        assert con.execute(
            "select distinct as_of_date from intermediate.int_customers__features"
        ).fetchall() == [(AS_OF,)]
        # every training and validation label was known by the end of the date
        assert con.execute(
            f"select max(label_cutoff_at) <= {day_after} "
            "from intermediate.int_propensity__examples where split in ('train', 'validation')"
        ).fetchone()[0]
        versions = con.execute(
            "select distinct data_as_of_date from marts.dim_model_versions"
        ).fetchall()
        assert versions == [(AS_OF,)]
        # the horizon reached the labels and the customer-value model
        assert con.execute(
            "select distinct horizon_days from intermediate.int_propensity__examples "
            "where model_name = 'purchase'"
        ).fetchall() == [(HORIZON,)]
        assert con.execute(
            "select distinct purchase_horizon_days, value_horizon_days "
            "from marts.fct_customer_value"
        ).fetchall() == [(HORIZON, 365)]


@pytest.mark.slow
def test_a_world_that_stopped_on_the_date_gives_the_same_scores(
    ran, world: Path, tmp_path: Path
) -> None:
    """The leakage guard: what happened after the date changes no prediction."""
    _, out = ran
    scratch = out / f"backtest_{AS_OF:%Y%m%d}_{HORIZON}d.duckdb"
    stopped = tmp_path / "stopped.duckdb"
    shutil.copy(world, stopped)
    with connect(stopped) as con:
        pending.hold_back(con, HORIZON)  # the world's loads end on AS_OF
        con.execute(f"drop schema {pending.PENDING_SCHEMA} cascade")
    with using_warehouse(stopped):
        build = runner.dbt_build(
            select=backtest.PREDICTION_SELECT,
            full_refresh=True,
            train=True,
            exclude=backtest.MODELS_ONLY,
            extra_vars={
                "as_of_date": AS_OF.isoformat(),
                "future_tolerance_hours": 0,
                "purchase_horizon_days": HORIZON,
            },
        )
        assert build.success, build.error
        runner.release_warehouse()
        with connect(stopped, read_only=True) as con:
            stopped_scores = con.execute(
                "select person_id, score from marts.fct_propensity_scores "
                "where model_name = 'purchase' order by 1"
            ).fetchall()
    runner.release_warehouse()
    with connect(scratch, read_only=True) as con:
        backtest_scores = con.execute(
            "select person_id, purchase_probability from backtest.predictions order by 1"
        ).fetchall()
    assert len(backtest_scores) > 300
    assert backtest_scores == stopped_scores
