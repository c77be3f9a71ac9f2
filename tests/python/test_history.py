"""A retailer's own history: a bare transaction log to scores in three commands, and a history
loaded in one backfill behaves exactly as the same history landed day by day."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from transaction_log import write_transaction_log
from typer.testing import CliRunner

from mailroom import runner as mailroom_runner
from mailroom.cli import app

pytestmark = pytest.mark.slow
cli = CliRunner()

# The README's "Loading your own data", word for word but for the file's path.
LOAD = ["load", "{file}", "--preset", "transaction_log"]


def said(result) -> str:
    return " ".join(result.output.split())


def figures(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(
            zip(
                ("persons", "features", "segment_members", "scored", "valued", "orders"),
                con.execute(
                    "select (select count(*) from marts.dim_customers), "
                    "(select count(*) from intermediate.int_customers__features), "
                    "(select count(*) from marts.fct_segment_memberships), "
                    "(select count(distinct person_id) from marts.fct_propensity_scores), "
                    "(select count(*) from marts.fct_customer_value where expected_orders > 0), "
                    "(select count(*) from marts.fct_orders where person_id is not null)"
                ).fetchone(),
                strict=True,
            )
        )


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory) -> dict:
    """The three commands of the README on a year of transactions of 2,000 customers."""
    root = tmp_path_factory.mktemp("history")
    log = write_transaction_log(root / "tx.csv", customers=2000)
    warehouse = root / "backfill.duckdb"
    outputs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAREHOUSE_PATH", str(warehouse))
        last_day = dt.datetime.strptime(log["last"], "%Y%m%d").date().isoformat()
        for args in (
            [*(a.format(file=root / "tx.csv") for a in LOAD), "--as-of", last_day],
            ["build"],  # the as-of date recorded by the load
            ["summary"],
        ):
            result = cli.invoke(app, args)
            mailroom_runner.release_warehouse()
            outputs.append(result)
    return {"root": root, "warehouse": warehouse, "log": log, "as_of": last_day, "runs": outputs}


def test_a_bare_transaction_log_reaches_scores_in_three_commands(backfilled) -> None:
    load, build, summary = backfilled["runs"]
    assert load.exit_code == 0, load.output
    assert f"loaded {backfilled['log']['rows']:,}" in said(load)
    assert build.exit_code == 0, build.output[-4000:]
    assert f"vars: as_of_date={backfilled['as_of']}" in said(build)
    # the build's output fits one screen: progress, dbt's counts, the headline
    assert len(build.output.splitlines()) <= 60, build.output
    assert "Deprecation" not in build.output and "RequestsDependencyWarning" not in build.output
    assert summary.exit_code == 0, summary.output

    got = figures(backfilled["warehouse"])
    assert got["persons"] == 2000  # every customer id is a person, no customer file needed
    assert got["orders"] == backfilled["log"]["rows"]
    assert got["features"] == 2000 and got["segment_members"] > 1000
    assert got["scored"] == 2000 and got["valued"] > 1000
    text = said(summary)
    assert "persons 2,000; persons with features 2,000;" in text
    assert "persons scored 2,000;" in text and "empty:" not in text
    with duckdb.connect(str(backfilled["warehouse"]), read_only=True) as con:
        stages = dict(
            con.execute(
                "select lifecycle_stage, count(*) from marts.dim_customers group by 1"
            ).fetchall()
        )
        assert "prospect" not in stages and stages.get("active", 0) > 0
        guards = con.execute("select guard_name, status from marts.rpt_pipeline_guards").fetchall()
        assert {status for _, status in guards} == {"ok"}


def test_a_backfill_equals_the_same_history_landed_day_by_day(backfilled) -> None:
    """Loaded at once, the history counts at its own dates: the training set, the champion
    and the scores are those of a warehouse that received each day's rows that day."""
    # the same file name (dbt's database name) and vars as the backfill's build:
    # the build reuses its parsed project
    daily = backfilled["root"] / "daily" / backfilled["warehouse"].name
    daily.parent.mkdir()
    shutil.copy(backfilled["warehouse"], daily)
    with duckdb.connect(str(daily)) as con:
        # each day's transactions landed that evening, as a nightly load would have
        con.execute(
            "update raw.shop_orders set _loaded_at = cast(order_at as timestamp) + interval 20 hour"
        )
        loads = con.execute("select count(distinct _loaded_at) from raw.shop_orders").fetchone()[0]
    assert loads > 300
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WAREHOUSE_PATH", str(daily))
        # what is compared below, and what it needs
        result = mailroom_runner.dbt_build(
            select="+fct_propensity_scores +dim_model_versions",
            exclude="resource_type:test resource_type:unit_test",
            target="dev",
            full_refresh=True,
            train=True,
            extra_vars={"as_of_date": backfilled["as_of"]},
        )
        mailroom_runner.release_warehouse()
    assert result.success, result.error

    def snapshot(path: Path) -> dict:
        with duckdb.connect(str(path), read_only=True) as con:
            return {
                "training": con.execute(
                    "select model_name, person_id, split, label, count(*) "
                    "from intermediate.int_propensity__training_set group by all order by all"
                ).fetchall(),
                "champions": con.execute(
                    "select model_name, model_version from marts.dim_model_versions "
                    "where is_champion order by 1"
                ).fetchall(),
                "scores": con.execute(
                    "select model_name, person_id, round(score, 9) "
                    "from marts.fct_propensity_scores order by 1, 2"
                ).fetchall(),
            }

    at_once, day_by_day = snapshot(backfilled["warehouse"]), snapshot(daily)
    assert len(at_once["training"]) > 1000 and len(at_once["champions"]) == 2
    assert at_once["training"] == day_by_day["training"]
    assert at_once["champions"] == day_by_day["champions"]
    assert at_once["scores"] == day_by_day["scores"]


def test_a_history_loaded_as_live_is_invisible_before_its_load(tmp_path, monkeypatch) -> None:
    """The rule's other half: a later load is known when it landed, not before."""
    log = write_transaction_log(tmp_path / "tx.csv", customers=50, days=60)
    first = tmp_path / "first.csv"
    lines = (tmp_path / "tx.csv").read_text().splitlines()
    first.write_text("\n".join(lines[:2]) + "\n")  # the first load: one transaction
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    for path in (first, tmp_path / "tx.csv"):
        result = cli.invoke(app, [a.format(file=path) for a in LOAD])
        assert result.exit_code == 0, result.output
    result = mailroom_runner.dbt_build(
        select="+stg_shop__orders", target="dev", extra_vars={"as_of_date": "2025-03-01"}
    )
    mailroom_runner.release_warehouse()
    assert result.success, result.error
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        history = con.execute(
            "select is_history_load, count(*) from staging.stg_shop__orders group by 1 order by 1"
        ).fetchall()
    assert history == [(False, log["rows"]), (True, 1)]
    assert re.match(r"\d{8}", log["first"])
