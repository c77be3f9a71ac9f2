"""Staging on a real dbt build: every raw row is staged, quarantined with a reason, or a collapsed duplicate."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mailroom import runner
from mailroom.warehouse import ensure_raw_schema

QUARANTINES = ["crm", "shop", "web", "esp", "privacy"]
ALL_QUARANTINED = " union all ".join(
    f"select * from staging.stg_{q}__quarantined_rows" for q in QUARANTINES
)
# What each generator defect must be caught as.
EXPECTED_REASON = {
    "bad_timestamp": "unparseable_timestamp",
    "missing_timestamp": "missing_timestamp",
    "future_timestamp": "future_timestamp",
    "malformed_json": "malformed_json",
    "unknown_event_type": "unknown_event_type",
    "negative_amount": "negative_amount",
    "absurd_amount": "absurd_amount",
    "unknown_currency": "unknown_currency",
    "unknown_status": "unknown_status",
    "orphan_order_item": "orphan_order_item",
    "invalid_email": "invalid_email",
}


# Data drift warns by design (rpt_model_monitoring: PSI above 0.1); nothing else may.
EXPECTED_WARNINGS = ("test.mailroom.rpt_model_monitoring_psi_below_warn_threshold",)


def test_build_succeeds(built_world) -> None:
    failed = [
        n
        for n in built_world.build.nodes
        if n.status not in ("success", "pass")
        and not (n.status == "warn" and n.unique_id.startswith(EXPECTED_WARNINGS))
        # exposures are documentation: dbt build reports them as no-op
        and not (n.status == "no-op" and n.unique_id.startswith("exposure."))
    ]
    assert built_world.build.success, failed
    assert not failed
    # the one build of the suite's own runs that runs the dbt unit tests (conftest)
    unit_tests = [n for n in built_world.build.nodes if n.resource_type == "unit_test"]
    assert len(unit_tests) >= 30, len(unit_tests)


def test_every_raw_table_reconciles(built_world) -> None:
    rec = built_world.df("select * from marts.rpt_source_reconciliation")
    assert len(rec) == 11
    assert rec["is_balanced"].all(), rec
    assert (
        rec["raw_rows"]
        == rec["staged_rows"] + rec["quarantined_rows"] + rec["collapsed_duplicates"]
    ).all()
    dupes = rec.set_index("source_table")["collapsed_duplicates"]
    assert dupes["web_events"] > 0 and dupes["esp_email_events"] > 0 and dupes["crm_contacts"] > 0


def test_planted_defects_are_quarantined_with_their_reason(built_world) -> None:
    planted = pd.read_parquet(built_world.truth / "planted_defects.parquet")
    assert len(planted) > 50
    assert set(planted["defect"]) <= set(EXPECTED_REASON)
    quarantined = built_world.df(
        f"select source_table, record_id, quarantine_reason from ({ALL_QUARANTINED})"
    )
    merged = planted.merge(quarantined, on=["source_table", "record_id"], how="left")
    missing = merged[merged["quarantine_reason"].isna()]
    assert missing.empty, missing
    wrong = merged[merged["defect"].map(EXPECTED_REASON) != merged["quarantine_reason"]]
    assert wrong.empty, wrong
    # Anything else in quarantine follows from a planted defect.
    extra = quarantined.merge(planted, on=["source_table", "record_id"], how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"]
    assert set(zip(extra["source_table"], extra["quarantine_reason"], strict=True)) <= {
        ("shop_order_items", "parent_order_quarantined"),
        ("privacy_consent_events", "invalid_email"),
    }


def test_quarantine_keeps_raw_values_and_rule(built_world) -> None:
    rows = built_world.df(f"select * from ({ALL_QUARANTINED})")
    assert rows["raw_row"].notna().all()
    assert rows["quarantine_rule"].notna().all()
    assert rows["quarantined_row_id"].is_unique


def test_staged_values_are_standardized(built_world) -> None:
    bad_email = built_world.query(
        "select count(*) from staging.stg_crm__contacts where email <> lower(trim(email))"
    )[0][0]
    assert bad_email == 0
    phones = built_world.query(
        "select count(*) from staging.stg_shop__customers where phone_e164 is not null "
        "and not regexp_full_match(phone_e164, '\\+[1-9][0-9]{6,14}')"
    )[0][0]
    assert phones == 0
    countries = built_world.query(
        "select count(*) from staging.stg_crm__contacts where country_code is null"
    )[0][0]
    assert countries == 0
    currencies = built_world.query(
        "select count(*) from staging.stg_shop__orders where total_amount_reporting is null"
    )[0][0]
    assert currencies == 0


# --------------------------------------------------------------------------- hand-planted rows

BAD_ROWS: dict[str, list[dict]] = {
    "shop_orders": [
        {
            "order_id": "ok1",
            "order_at": "2026-05-01T10:00:00+02:00",
            "total_amount": "10.00",
            "currency": "EUR",
        },
        {"order_id": "ok2", "order_at": "2026-05-01 10:00:00", "total_amount": "10.00"},
        {"order_id": "", "order_at": "2026-05-01T10:00:00Z", "total_amount": "10.00"},
        {"order_id": "neg", "order_at": "2026-05-01T10:00:00Z", "total_amount": "-1.00"},
        {"order_id": "huge", "order_at": "2026-05-01T10:00:00Z", "total_amount": "900000"},
        {"order_id": "nan", "order_at": "2026-05-01T10:00:00Z", "total_amount": "ten"},
        {
            "order_id": "cur",
            "order_at": "2026-05-01T10:00:00Z",
            "total_amount": "1",
            "currency": "ZZZ",
        },
        {
            "order_id": "sts",
            "order_at": "2026-05-01T10:00:00Z",
            "total_amount": "1",
            "status": "teleported",
        },
        {"order_id": "ts", "order_at": "01/05/2026", "total_amount": "1"},
        {"order_id": "fut", "order_at": "2030-01-01T00:00:00Z", "total_amount": "1"},
        {
            "order_id": "disc",
            "order_at": "2026-05-01T10:00:00Z",
            "total_amount": "1",
            "discount_amount": "lots",
        },
    ],
    "shop_order_items": [
        {
            "order_item_id": "i1",
            "order_id": "ok1",
            "product_id": "p",
            "quantity": "1",
            "unit_price": "10",
        },
        {
            "order_item_id": "i2",
            "order_id": "ghost",
            "product_id": "p",
            "quantity": "1",
            "unit_price": "10",
        },
        {
            "order_item_id": "i3",
            "order_id": "neg",
            "product_id": "p",
            "quantity": "1",
            "unit_price": "10",
        },
        {
            "order_item_id": "i4",
            "order_id": "ok1",
            "product_id": "p",
            "quantity": "0",
            "unit_price": "10",
        },
        {
            "order_item_id": "i5",
            "order_id": "ok1",
            "product_id": "p",
            "quantity": "1",
            "unit_price": "abc",
        },
        {
            "order_item_id": "i6",
            "order_id": "ok1",
            "product_id": "p",
            "quantity": "2.5",
            "unit_price": "10",
        },
    ],
    "esp_subscribers": [
        {"subscriber_id": "s1", "email": "Good@Example.com", "status": "subscribed"},
        {"subscriber_id": "s2", "email": "not-an-email", "status": "subscribed"},
        {"subscriber_id": "s3", "email": "ok@example.com", "status": "frozen"},
        # the newest version is bad: it is quarantined, the older clean one is not staged in its place
        {
            "subscriber_id": "s4",
            "email": "x@example.com",
            "status": "subscribed",
            "updated_at": "2026-01-01T00:00:00Z",
        },
        {
            "subscriber_id": "s4",
            "email": "x@example.com",
            "status": "gone",
            "updated_at": "2026-02-01T00:00:00Z",
        },
    ],
    "web_events": [
        {
            "event_id": "w1",
            "event_type": "page_view",
            "event_at": "2026-05-01T10:00:00Z",
            "properties": "{}",
        },
        {
            "event_id": "w2",
            "event_type": "page_view",
            "event_at": "2026-05-01T10:00:00Z",
            "properties": "{oops",
        },
        {
            "event_id": "w3",
            "event_type": "teleport",
            "event_at": "2026-05-01T10:00:00Z",
            "properties": "{}",
        },
        {"event_id": "w4", "event_type": "page_view", "event_at": None, "properties": "{}"},
    ],
    "esp_email_events": [
        {"event_id": "m1", "event_type": "open", "event_at": "2026-05-01T10:00:00Z"},
        {"event_id": "m2", "event_type": "open", "event_at": "yesterday"},
    ],
    "privacy_consent_events": [
        {
            "consent_event_id": "c1",
            "email": "a@b.co",
            "channel": "email",
            "status": "granted",
            "event_at": "2026-01-01T00:00:00Z",
        },
        {
            "consent_event_id": "c2",
            "email": "a@b.co",
            "channel": "pigeon",
            "status": "granted",
            "event_at": "2026-01-01T00:00:00Z",
        },
        {
            "consent_event_id": "c3",
            "email": "bad",
            "channel": "email",
            "status": "granted",
            "event_at": "2026-01-01T00:00:00Z",
        },
        {
            "consent_event_id": "c4",
            "email": None,
            "channel": "email",
            "status": "granted",
            "event_at": "2026-01-01T00:00:00Z",
        },
    ],
}
EXPECTED = {
    ("shop_orders", "neg"): "negative_amount",
    ("shop_orders", "huge"): "absurd_amount",
    ("shop_orders", "nan"): "unparseable_amount",
    ("shop_orders", "cur"): "unknown_currency",
    ("shop_orders", "sts"): "unknown_status",
    ("shop_orders", "ts"): "unparseable_timestamp",
    ("shop_orders", "fut"): "future_timestamp",
    ("shop_orders", None): "missing_key",
    ("shop_order_items", "i2"): "orphan_order_item",
    ("shop_order_items", "i3"): "parent_order_quarantined",
    ("shop_order_items", "i4"): "bad_quantity",
    ("shop_order_items", "i5"): "unparseable_amount",
    ("shop_order_items", "i6"): "bad_quantity",
    ("shop_orders", "disc"): "unparseable_amount",
    ("esp_subscribers", "s4"): "unknown_status",
    ("privacy_consent_events", "c4"): "missing_identifier",
    ("esp_subscribers", "s2"): "invalid_email",
    ("esp_subscribers", "s3"): "unknown_status",
    ("web_events", "w2"): "malformed_json",
    ("web_events", "w3"): "unknown_event_type",
    ("web_events", "w4"): "missing_timestamp",
    ("esp_email_events", "m2"): "unparseable_timestamp",
    ("privacy_consent_events", "c2"): "unknown_channel",
    ("privacy_consent_events", "c3"): "invalid_email",
}


@pytest.mark.slow
def test_hand_planted_bad_rows_and_empty_sources(warehouse_env: Path) -> None:
    """A mostly empty warehouse (no CRM, no campaigns...) builds, and every bad row lands with its reason."""
    with duckdb.connect(str(warehouse_env)) as con:
        ensure_raw_schema(con)
        for table, rows in BAD_ROWS.items():
            df = pd.DataFrame(rows)
            df["_loaded_at"] = pd.Timestamp("2026-05-02")
            con.register("rows_df", df)
            con.execute(f"insert into raw.{table} by name select * from rows_df")
            con.unregister("rows_df")
    result = runner.dbt_build(target="dev", extra_vars={"as_of_date": "2026-09-30"})
    # Two good orders cannot train a model: the build fails loudly on that, and only that.
    problems = [
        (n.unique_id, n.message)
        for n in result.nodes
        if n.status not in ("success", "pass") and not n.unique_id.startswith("exposure.")
    ]
    assert [p[0].split(".")[2] for p in problems] == [
        "rpt_pipeline_guards_no_stage_empty_where_data_exists"
    ], problems
    with duckdb.connect(str(warehouse_env)) as con:
        guards = dict(
            con.execute("select guard_name, status from marts.rpt_pipeline_guards").fetchall()
        )
        assert guards == {
            "persons": "ok",
            "feature population": "ok",
            "scores": "fail",
            "customer value": "ok",
        }
        got = {
            (t, r): reason
            for t, r, reason in con.execute(
                f"select source_table, record_id, quarantine_reason from ({ALL_QUARANTINED})"
            ).fetchall()
        }
        balanced = con.execute(
            "select bool_and(is_balanced), sum(raw_rows) from marts.rpt_source_reconciliation"
        ).fetchone()
        staged = {
            r[0] for r in con.execute("select order_id from staging.stg_shop__orders").fetchall()
        }
        subscribers = {
            r[0]
            for r in con.execute(
                "select subscriber_id from staging.stg_esp__subscribers"
            ).fetchall()
        }
        collapsed = con.execute(
            "select collapsed_duplicates from marts.rpt_source_reconciliation "
            "where source_table = 'esp_subscribers'"
        ).fetchone()[0]
    assert got == EXPECTED
    assert balanced == (True, sum(len(v) for v in BAD_ROWS.values()))
    assert staged == {"ok1", "ok2"}
    assert subscribers == {"s1"}
    assert collapsed == 1  # s4's older clean version
