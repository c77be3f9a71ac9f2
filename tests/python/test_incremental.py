"""An incremental run after a day of new raw data gives the same warehouse as a full refresh.

One small world is generated with its last day of loads held back
(`generate --pending-days 1`) and built. The warehouse file is copied; in
both copies the held-back day lands (new events, late events of earlier
days, re-deliveries, new versions of orders); one copy then runs a routine
incremental build, the other a `--full-refresh` build. Every table and view
of staging, intermediate, marts and snapshots must hold the same rows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from mailroom import runner
from mailroom.generator import WorldConfig, generate_world, pending
from tests.python.conftest import using_warehouse

WORLD = WorldConfig(people=400, chunk_size=400, seed=23)
SCHEMAS = ("staging", "intermediate", "marts", "snapshots")
# Bookkeeping that records when something was computed, not what: the
# incremental model's run timestamps, the snapshot's validity periods
# (stamped with the build time) and segment transitions read off them,
# wall-clock times of scoring, valuing, clustering and monitoring.
RUN_METADATA = {
    "_processed_at",
    "_checked_future_limit",
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
    "scored_at",
    "valued_at",
    "clustered_at",
    "measured_at",
    "transitioned_at",
}
# The training feature history samples people above this (everyone below it): 150
# of the world's ~470 people, so the sampled path is the one built here.
SAMPLED_HISTORY = {"customer_feature_history_max_people": 150}
HISTORY_TESTS = [
    "assert_feature_history_matches_scoring_features",
    "assert_scoring_population_matches_training_examples",
]
# Not a test of speed: tests are skipped in the two builds that are compared.
MODELS_ONLY = "resource_type:test resource_type:unit_test"


# Rows that make incremental runs hard, on top of the generated day. Planted
# before the first build: an event too far in the future at D - 1 that is
# believable at D (its verdict must be checked again), and an event whose
# loader stamped it decades ahead (a skewed clock): it must not move the load
# watermark, or the next day's rows, loaded long before the wall clock of this
# test, would never be read.
BEFORE_FIRST_BUILD = [
    """insert into raw.web_events (event_id, anonymous_id, event_type, event_at, received_at,
           properties, _loaded_at)
       values ('ev-future', 'anon-future', 'page_view', '2026-10-02T12:00:00Z',
           '2026-09-29T10:00:00Z', '{}', timestamp '2026-09-29 10:00:00')""",
    """insert into raw.web_events (event_id, anonymous_id, event_type, event_at, received_at,
           properties, _loaded_at)
       values ('ev-skewed-load', 'anon-skewed', 'page_view', '2026-09-28T12:00:00Z',
           '2026-09-28T12:00:01Z', '{}', timestamp '2099-01-01 00:00:00')""",
]
# Landed with the new day (in both copies).
WITH_THE_NEW_DAY = [
    # a re-delivery of an event staged long ago (the first delivery stays)
    """insert into raw.web_events select * replace (
           '2026-09-30T08:00:00Z' as received_at, timestamp '2026-09-30 08:00:00' as _loaded_at)
       from raw.web_events where event_type = 'product_view' order by event_id limit 1""",
    # a re-delivery with malformed JSON of another staged event (quarantined, the original stays)
    """insert into raw.web_events select * replace (
           '{"product_id":' as properties, timestamp '2026-09-30 08:01:00' as _loaded_at)
       from raw.web_events where event_type = 'product_view' order by event_id limit 1 offset 1""",
    # a webhook that is three weeks late
    """insert into raw.web_events (event_id, anonymous_id, event_type, event_at, received_at,
           properties, _loaded_at)
       select 'ev-late', anonymous_id, 'page_view', '2026-09-08T10:00:00Z', '2026-09-30T09:00:00Z',
           '{}', timestamp '2026-09-30 09:00:00'
       from raw.web_events where anonymous_id is not null order by event_id limit 1""",
    # an event without an id (quarantined as missing_key)
    """insert into raw.web_events (event_type, event_at, received_at, properties, _loaded_at)
       values ('page_view', '2026-09-30T09:30:00Z', '2026-09-30T09:30:01Z', '{}',
           timestamp '2026-09-30 09:30:01')""",
    # an e-mail event delivered again with an earlier receipt (clock skew): it becomes the first
    """insert into raw.esp_email_events select * replace (
           '2020-01-01T00:00:00Z' as received_at, timestamp '2026-09-30 10:00:00' as _loaded_at)
       from raw.esp_email_events where event_type = 'open' order by event_id limit 1""",
    # an old completed order refunded today
    """insert into raw.shop_orders select * replace (
           'refunded' as status, '2026-09-30 11:00:00' as updated_at,
           timestamp '2026-09-30 11:00:00' as _loaded_at)
       from raw.shop_orders where status = 'completed' order by order_id limit 1""",
    # an old order whose new version is bad: quarantined, and so are its lines
    """insert into raw.shop_orders select * replace (
           '-5.00' as total_amount, '2026-09-30 11:30:00' as updated_at,
           timestamp '2026-09-30 11:30:00' as _loaded_at)
       from raw.shop_orders where status = 'completed' order by order_id limit 1 offset 1""",
    # an event without a load time (re-read by every run rather than lost)
    """insert into raw.web_events (event_id, anonymous_id, event_type, event_at, received_at,
           properties, _loaded_at)
       select 'ev-unloaded', anonymous_id, 'page_view', '2026-09-29T10:00:00Z',
           '2026-09-29T10:00:01Z', '{}', null
       from raw.web_events where anonymous_id is not null order by event_id limit 1""",
    # a staged event and e-mail event deleted from the raw tables (gone after a full refresh)
    """delete from raw.web_events where event_id = (
           select min(event_id) from raw.web_events where event_type = 'page_view')""",
    """delete from raw.esp_email_events where event_id = (
           select min(event_id) from raw.esp_email_events where event_type = 'delivered')""",
    # an old order deleted from the raw orders: its lines are orphans now
    """delete from raw.shop_orders where order_id = (
           select order_id from raw.shop_orders
           where status = 'completed' and order_id in (select order_id from raw.shop_order_items)
           order by order_id limit 1 offset 5)""",
    # a line of an old order that lands late
    """insert into raw.shop_order_items (order_item_id, order_id, product_id, quantity, unit_price,
           _loaded_at)
       select 'L-late', order_id, product_id, '1', unit_price, timestamp '2026-09-30 12:00:00'
       from raw.shop_order_items order by order_id desc limit 1""",
]


def relations(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "select table_schema || '.' || table_name, column_name, data_type "
        "from information_schema.columns where table_catalog = ? and table_schema in "
        f"({', '.join(repr(s) for s in SCHEMAS)}) order by table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for name, column, dtype in rows:
        out.setdefault(name, []).append((column, dtype))
    return out


def comparable(column: str, dtype: str) -> str:
    """A column as compared: doubles to 9 decimals (summation order), the rest as is."""
    quoted = f'"{column}"'
    if dtype in ("DOUBLE", "FLOAT", "REAL"):
        return f"round({quoted}, 9) as {quoted}"
    return quoted


def fingerprint(con: duckdb.DuckDBPyConnection, name: str, columns: list[tuple[str, str]]):
    """Rows and an order-independent hash of a relation's rows (a multiset fingerprint)."""
    cols = ", ".join(comparable(c, t) for c, t in columns if c not in RUN_METADATA)
    return con.execute(
        f"select count(*), sum(hash(*columns(*))) from (select {cols} from {name})"
    ).fetchone()


@pytest.mark.slow
def test_incremental_run_after_a_new_day_equals_a_full_refresh(tmp_path: Path) -> None:
    # one file name (dbt's database name) for both: their builds share one parsed project
    incremental = tmp_path / "incremental" / "warehouse.duckdb"
    full = tmp_path / "refreshed" / "warehouse.duckdb"
    incremental.parent.mkdir()
    full.parent.mkdir()
    generate_world(WORLD, warehouse=incremental, truth_dir=tmp_path / "truth")
    with duckdb.connect(str(incremental)) as con:
        held = pending.hold_back(con, 1)
        # The day that arrives holds what makes incremental runs hard.
        late = con.execute(
            "select count(*) from raw_pending.web_events "
            "where cast(left(event_at, 10) as date) < date '2026-09-30'"
        ).fetchone()[0]
    assert held["web_events"] > 0 and held["esp_email_events"] > 0 and held["shop_orders"] > 0
    assert late > 0, "no late web events in the held-back day"

    with duckdb.connect(str(incremental)) as con:
        for sql in BEFORE_FIRST_BUILD:
            con.execute(sql)
    with using_warehouse(incremental):
        first = runner.dbt_build(target="dev", exclude=MODELS_ONLY, extra_vars=SAMPLED_HISTORY)
    assert first.success, first.error or [n for n in first.nodes if n.status != "success"]
    # The training history is built for a sample of people (as at scale), and
    # training and scoring still agree on them.
    with using_warehouse(incremental):
        checks = runner.dbt_build(
            target="dev", select=" ".join(HISTORY_TESTS), extra_vars=SAMPLED_HISTORY
        )
    assert checks.success and {n.unique_id.split(".")[-1] for n in checks.nodes} >= set(
        HISTORY_TESTS
    )
    with duckdb.connect(str(incremental)) as con:
        sampled, everyone = con.execute(
            "select (select count(distinct person_id) from intermediate.int_customers__feature_history), "
            "(select count(*) from intermediate.int_customers__features)"
        ).fetchone()
    assert 100 < sampled < 200 < everyone, (sampled, everyone)
    with duckdb.connect(str(incremental)) as con:
        con.execute("checkpoint")  # dbt's in-process handle may still hold writes in the WAL
    shutil.copy(incremental, full)
    # Routine builds need no training while the registry has a promoted
    # version, and do train when it has none.
    with using_warehouse(incremental):
        assert not runner.needs_training("dev")
    unpromoted = tmp_path / "unpromoted.duckdb"
    shutil.copy(incremental, unpromoted)
    with duckdb.connect(str(unpromoted)) as con:
        con.execute("update intermediate.int_propensity__model_versions set is_promoted = false")
    with using_warehouse(unpromoted):
        assert runner.needs_training("dev")
    for warehouse in (incremental, full):
        with duckdb.connect(str(warehouse)) as con:
            pending.land(con, 1)
            for sql in WITH_THE_NEW_DAY:
                con.execute(sql)
    with duckdb.connect(str(incremental)) as con:
        # the staged lines of the order just deleted from the raw orders
        lines_of_deleted_order = con.execute(
            "select order_item_id from staging.base_shop__order_items "
            "where quarantine_reason is null and order_id not in "
            "(select trim(order_id) from raw.shop_orders where order_id is not null)"
        ).fetchall()
    assert lines_of_deleted_order, "no staged line lost its order"

    with using_warehouse(incremental):
        routine = runner.dbt_build(
            target="dev", train=False, exclude=MODELS_ONLY, extra_vars=SAMPLED_HISTORY
        )
    assert routine.success, routine.error or [n for n in routine.nodes if n.status != "success"]
    built = {n.unique_id.split(".")[-1] for n in routine.nodes}
    assert "int_propensity__model_versions" not in built, "a routine run must not retrain"
    assert "int_customers__feature_history" not in built
    with using_warehouse(full):
        refresh = runner.dbt_build(
            target="dev",
            train=False,
            full_refresh=True,
            exclude=MODELS_ONLY,
            extra_vars=SAMPLED_HISTORY,
        )
    assert refresh.success, refresh.error

    with duckdb.connect(str(incremental)) as con:
        # The routine run really was incremental: it re-computed a small share of the events.
        batches = con.execute(
            "select _processed_at, count(*) from staging.base_web__events group by 1 order by 1"
        ).fetchall()
        assert len(batches) == 2, batches
        assert batches[1][1] < 0.2 * batches[0][1], batches
        # and the hard rows came out as a full refresh has them (compared below), e.g.:
        assert con.execute(
            "select quarantine_reason from staging.base_web__events where event_id = 'ev-future'"
        ).fetchone() == (None,)
        verdicts = con.execute(
            "select distinct quarantine_reason, _processed_at = ? "
            "from staging.base_shop__order_items where order_item_id in "
            f"({', '.join(repr(line) for (line,) in lines_of_deleted_order)})",
            [batches[1][0]],
        ).fetchall()
        assert verdicts == [("orphan_order_item", True)], verdicts

        mine = relations(con, "warehouse")
        mine_prints = {name: fingerprint(con, name, cols) for name, cols in mine.items()}
    with duckdb.connect(str(full)) as con:
        # (dbt's in-process handles keep both files open: compared one at a time)
        theirs = relations(con, "warehouse")
        their_prints = {name: fingerprint(con, name, cols) for name, cols in theirs.items()}
    assert mine.keys() == theirs.keys()
    assert len(mine) > 80
    for name, columns in mine.items():
        assert columns == theirs[name], f"{name}: columns differ"
    differing = {
        name: (mine_prints[name], their_prints[name])
        for name in mine
        if mine_prints[name] != their_prints[name]
    }
    assert not differing, differing
