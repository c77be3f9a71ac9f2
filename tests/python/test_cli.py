"""The command line explains itself and reports clearly."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mailroom.cli import app

runner = CliRunner()
COMMANDS = [
    "generate",
    "land",
    "load",
    "build",
    "demo",
    "lint-sql",
    "bench",
    "check-snowflake",
    "summary",
    "score-campaigns",
    "campaign-lift",
    "snapshot",
    "serve",
    "load-test",
    "dashboard",
    "docs",
    "backtest",
]


def test_top_level_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and len(result.output.splitlines()) > 4


def test_generate_then_summary(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    result = runner.invoke(app, ["generate", "-n", "60", "--truth-dir", str(tmp_path / "truth")])
    assert result.exit_code == 0, result.output
    assert "web_events" in result.output and "truth written" in result.output
    assert (tmp_path / "truth" / "people.parquet").exists()
    result = runner.invoke(app, ["summary"])
    assert result.exit_code == 0
    assert "schema raw" in result.output


def test_held_back_days_land_one_at_a_time_into_the_same_world(tmp_path, monkeypatch) -> None:
    import duckdb

    from mailroom.contract import load_contract

    def raw_rows(path):
        with duckdb.connect(str(path)) as con:
            return {
                t: con.execute(f"select count(*), sum(hash(*columns(*))) from raw.{t}").fetchone()
                for t in load_contract()
            }

    whole, held = tmp_path / "whole.duckdb", tmp_path / "held.duckdb"
    for path, extra in ((whole, []), (held, ["--pending-days", "2"])):
        monkeypatch.setenv("WAREHOUSE_PATH", str(path))
        args = ["generate", "-n", "300", "--seed", "5", "--truth-dir", str(tmp_path / "t")]
        result = runner.invoke(app, args + extra)
        assert result.exit_code == 0, result.output
    assert "held back in raw_pending" in result.output
    with duckdb.connect(str(held)) as con:
        assert con.execute(
            "select value from raw.world_metadata where key = 'as_of'"
        ).fetchone() == ("2026-09-28",)
        # nothing loaded after the (new) as-of date is visible
        assert con.execute(
            "select count(*) from raw.web_events where _loaded_at >= timestamp '2026-09-29'"
        ).fetchone() == (0,)
    assert raw_rows(held) != raw_rows(whole)
    result = runner.invoke(app, ["land"])
    assert result.exit_code == 0 and "as-of date now 2026-09-29" in result.output, result.output
    result = runner.invoke(app, ["land"])
    assert result.exit_code == 0 and "as-of date now 2026-09-30" in result.output, result.output
    assert raw_rows(held) == raw_rows(whole)
    with duckdb.connect(str(held)) as con:
        assert con.execute(
            "select count(*) from information_schema.schemata where schema_name = 'raw_pending'"
        ).fetchone() == (0,)
    result = runner.invoke(app, ["land"])
    assert result.exit_code == 2 and "nothing is held back" in result.output
