"""The sample world: deterministic, complete, and honest about its truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mailroom.contract import load_contract
from mailroom.generator import WorldConfig, generate_world

TINY = WorldConfig(people=400, chunk_size=150, seed=3, as_of=dt.date(2026, 3, 31), history_days=400)


def _digest(warehouse: Path) -> dict[str, tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        out = {}
        for table in load_contract():
            cols = [c for c in load_contract()[table].column_names if c != "_loaded_at"]
            expr = " || '|' || ".join(f"coalesce(\"{c}\", '∅')" for c in cols)
            out[table] = con.execute(
                f"select count(*), coalesce(sum(hash({expr})), 0) from raw.{table}"
            ).fetchone()
        return out


def test_same_seed_same_world(tmp_path: Path) -> None:
    a = generate_world(TINY, warehouse=tmp_path / "a.duckdb", truth_dir=tmp_path / "ta")
    b = generate_world(TINY, warehouse=tmp_path / "b.duckdb", truth_dir=tmp_path / "tb")
    assert a.raw_counts == b.raw_counts
    assert _digest(tmp_path / "a.duckdb") == _digest(tmp_path / "b.duckdb")
    for truth in ("people", "campaign_effects", "campaign_orders"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "ta" / f"{truth}.parquet"),
            pd.read_parquet(tmp_path / "tb" / f"{truth}.parquet"),
        )
    generate_world(
        WorldConfig(**{**TINY.__dict__, "seed": 4}),
        warehouse=tmp_path / "c.duckdb",
        truth_dir=tmp_path / "tc",
    )
    assert _digest(tmp_path / "c.duckdb") != _digest(tmp_path / "a.duckdb")


def test_every_contract_table_written_and_truth_shaped(tmp_path: Path) -> None:
    stats = generate_world(TINY, warehouse=tmp_path / "w.duckdb", truth_dir=tmp_path / "t")
    assert set(stats.raw_counts) == set(load_contract())
    assert all(n > 0 for n in stats.raw_counts.values()), stats.raw_counts

    people = pd.read_parquet(tmp_path / "t" / "people.parquet")
    assert len(people) == TINY.people and people["true_person_id"].is_unique
    for col in (
        "purchase_probability_next_30d",
        "purchased_next_30d",
        "churned_next_90d",
        "orders_next_365d",
        "revenue_next_365d",
    ):
        assert col in people.columns
    assert people["purchase_probability_next_30d"].between(0, 1).all()
    # the realised outcome agrees with the true probability on average
    assert (
        abs(people["purchased_next_30d"].mean() - people["purchase_probability_next_30d"].mean())
        < 0.05
    )

    records = pd.read_parquet(tmp_path / "t" / "source_records.parquet")
    assert set(records["source_table"]) == {
        "crm_contacts",
        "shop_customers",
        "shop_orders",
        "web_events",
        "esp_subscribers",
    }
    assert not records.duplicated(["source_table", "source_record_id"]).any()
    assert set(records["true_person_id"]) <= set(people["true_person_id"])
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        guest = {
            r[0]
            for r in con.execute(
                "select order_id from raw.shop_orders where customer_id is null"
            ).fetchall()
        }
        anon = {
            r[0] for r in con.execute("select distinct anonymous_id from raw.web_events").fetchall()
        }
        latest = con.execute("select max(_loaded_at) from raw.web_events").fetchone()[0]
        dupes = con.execute(
            "select count(*) - count(distinct event_id) from raw.web_events"
        ).fetchone()[0]
    assert set(records.loc[records.source_table == "shop_orders", "source_record_id"]) == guest
    assert set(records.loc[records.source_table == "web_events", "source_record_id"]) == anon
    # nothing after the as-of date was landed; at-least-once delivery happened
    assert latest < pd.Timestamp(TINY.as_of) + pd.Timedelta(days=1)
    assert dupes > 0


def test_ids_unique_across_chunks(tmp_path: Path) -> None:
    generate_world(TINY, warehouse=tmp_path / "w.duckdb", truth_dir=tmp_path / "t")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        for table, key in (
            ("shop_customers", "customer_id"),
            ("crm_contacts", "contact_id"),
            ("esp_subscribers", "subscriber_id"),
            ("shop_order_items", "order_item_id"),
        ):
            persons = con.execute(f"select count(distinct {key}) from raw.{table}").fetchone()[0]
            assert persons > 0
        orders = con.execute(
            "select count(distinct order_id), count(*) from raw.shop_orders where status = 'completed'"
        ).fetchone()
        assert orders[0] == orders[1]


@pytest.mark.parametrize("people", [10, 157])
def test_odd_sizes(tmp_path: Path, people: int) -> None:
    cfg = WorldConfig(**{**TINY.__dict__, "people": people, "chunk_size": 100})
    generate_world(cfg, warehouse=tmp_path / "w.duckdb", truth_dir=tmp_path / "t")
    assert len(pd.read_parquet(tmp_path / "t" / "people.parquet")) == people


def test_campaigns_have_holdouts_and_an_effect_on_orders(tmp_path: Path) -> None:
    cfg = WorldConfig(**{**TINY.__dict__, "people": 1200, "chunk_size": 500})
    generate_world(cfg, warehouse=tmp_path / "w.duckdb", truth_dir=tmp_path / "t")
    effects = pd.read_parquet(tmp_path / "t" / "campaign_effects.parquet")
    induced = pd.read_parquet(tmp_path / "t" / "campaign_orders.parquet")
    assert not effects.duplicated(["campaign_id", "variant"]).any()
    broadcast = effects[effects["campaign_type"] != "triggered"]
    assert (effects.loc[effects["campaign_type"] == "triggered", "holdout_recipients"] == 0).all()
    per_campaign = broadcast.groupby("campaign_id").agg(
        treated=("recipients", "sum"), holdout=("holdout_recipients", "first")
    )
    share = per_campaign["holdout"].sum() / per_campaign.sum().sum()
    assert 0.07 < share < 0.13, share
    assert effects["true_incremental_conversion_probability"].between(0, 0.2).all()
    # the expected and the realized effect agree (Poisson noise: a few standard deviations)
    expected = effects["expected_incremental_conversions"].sum()
    realized = effects["realized_incremental_conversions"].sum()
    assert expected > 10 and abs(realized - expected) < 4 * expected**0.5
    assert effects["induced_orders"].sum() == len(induced)
    assert set(induced["trigger"]) <= {"delivered", "opened", "clicked"}
    assert (induced["ordered_at"] > induced["triggered_at"]).all()
    lag_days = (induced["ordered_at"] - induced["triggered_at"]).dt.total_seconds() / 86400
    assert lag_days.max() <= cfg.email_order_delay_max_days
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        # the orders e-mails brought go through the shop like any other: orders, lines, checkouts
        visible = set(induced.loc[induced["is_visible"], "order_id"])
        landed = {r[0] for r in con.execute("select order_id from raw.shop_orders").fetchall()}
        lines = {r[0] for r in con.execute("select order_id from raw.shop_order_items").fetchall()}
        checkouts = {
            r[0]
            for r in con.execute(
                'select regexp_extract(properties, \'"order_id":"([^"]+)"\', 1) '
                "from raw.web_events where event_type = 'checkout'"
            ).fetchall()
        }
        # the control group is sent nothing, and its events carry no variant
        mixed = con.execute("""
            select count(*) from raw.esp_email_events as holdouts
            inner join raw.esp_email_events as messages
                on holdouts.subscriber_id = messages.subscriber_id
                and holdouts.campaign_id = messages.campaign_id
                and messages.event_type in ('send', 'delivered', 'open', 'click')
            where holdouts.event_type = 'holdout'
        """).fetchone()[0]
        variants = con.execute(
            "select count(variant) from raw.esp_email_events where event_type = 'holdout'"
        ).fetchone()[0]
    assert visible and visible <= landed | {None}
    assert (
        len(visible - lines) <= 0.01 * len(visible) + 1
    )  # a planted orphan or missing key at most
    assert len(visible & checkouts) >= 0.9 * len(visible)
    assert mixed == 0 and variants == 0
