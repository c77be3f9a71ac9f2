"""Every SQL model, data test and unit test also builds on the `snowflake` target (fakesnow, no account)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailroom.generator import WorldConfig, generate_world
from mailroom.portability import build_on_fake_snowflake, parse_snowflake


@pytest.mark.slow
def test_sql_models_build_on_snowflake_target(tmp_path: Path, with_unit_tests) -> None:
    warehouse = tmp_path / "world.duckdb"
    generate_world(
        WorldConfig(people=250, chunk_size=250, seed=11),
        warehouse=warehouse,
        truth_dir=tmp_path / "truth",
    )
    result = build_on_fake_snowflake(warehouse, tmp_path / "fakesnow", as_of_date="2026-09-30")
    not_passing = {
        k: v
        for k, v in result.statuses.items()
        if v not in ("success", "pass", "success (emulated)")
        # data drift warns by design (PSI above 0.1 on a tiny world)
        and not (v == "warn" and "rpt_model_monitoring_psi_below_warn" in k)
        # exposures are documentation: dbt build reports them as no-op
        and not (v == "no-op" and k.startswith("exposure."))
    }
    assert not not_passing, not_passing
    assert not result.parse_errors, result.parse_errors
    assert result.success, result.error
    kinds = {node.split(".")[0] for node in result.statuses}
    assert {"model", "test", "unit_test", "seed"} <= kinds
    models = [n for n in result.statuses if n.startswith("model.")]
    assert len(models) >= 45
    assert result.statuses["model.mailroom.int_identity__match_parameters"] == "success (emulated)"
    for emulated in (
        "fct_customer_clusters",
        "int_propensity__model_versions",
        "fct_propensity_scores",
        "fct_customer_value",
        "rpt_model_monitoring",
    ):
        assert result.statuses[f"model.mailroom.{emulated}"] == "success (emulated)", emulated
    assert result.statuses["model.mailroom.dim_model_versions"] == "success"
    for built in ("model.mailroom.dim_customers", "snapshot.mailroom.segment_history"):
        assert result.statuses[built] == "success", built
    assert result.statuses["model.mailroom.fct_segment_transitions"] == "success"
    for incremental in ("base_web__events", "base_esp__email_events", "base_shop__order_items"):
        assert result.statuses[f"model.mailroom.{incremental} (incremental run)"] == "success"
    for activation in (
        "fct_recommendations",
        "rpt_recommendation_evaluation",
        "fct_content_selections",
        "fct_audience_memberships",
        "sync_esp__profiles",
        "sync_esp__deletions",
    ):
        assert result.statuses[f"model.mailroom.{activation}"] == "success", activation
    for measured in ("int_measurement__campaign_recipients", "fct_campaign_results"):
        assert result.statuses[f"model.mailroom.{measured}"] == "success", measured
    unit = "unit_test.mailroom.fct_campaign_results.campaign_results_lift_intervals_by_hand"
    assert result.statuses[unit] == "pass"


def test_snowflake_parse_check_catches_bad_sql() -> None:
    assert (
        parse_snowflake(
            "select a, b from t qualify row_number() over (partition by a order by b) = 1"
        )
        == []
    )
    assert parse_snowflake("select a from t where") != []
