"""Every SQL model, data test and unit test also builds on the `snowflake` target (fakesnow, no account)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailroom.generator import WorldConfig, generate_world
from mailroom.portability import build_on_fake_snowflake, parse_snowflake


@pytest.mark.slow
def test_sql_models_build_on_snowflake_target(tmp_path: Path) -> None:
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
    }
    assert not not_passing, not_passing
    assert not result.parse_errors, result.parse_errors
    assert result.success, result.error
    kinds = {node.split(".")[0] for node in result.statuses}
    assert {"model", "test", "unit_test", "seed"} <= kinds
    models = [n for n in result.statuses if n.startswith("model.")]
    assert len(models) >= 45
    assert result.statuses["model.mailroom.int_identity__match_parameters"] == "success (emulated)"
    assert result.statuses["model.mailroom.dim_customers"] == "success"


def test_snowflake_parse_check_catches_bad_sql() -> None:
    assert (
        parse_snowflake(
            "select a, b from t qualify row_number() over (partition by a order by b) = 1"
        )
        == []
    )
    assert parse_snowflake("select a from t where") != []
