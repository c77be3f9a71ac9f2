"""The command line explains itself and reports clearly."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from mailroom.cli import app

runner = CliRunner()
COMMANDS = [
    "generate",
    "load",
    "build",
    "demo",
    "lint-sql",
    "bench",
    "check-snowflake",
    "summary",
    "score-campaigns",
    "campaign-lift",
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
