"""The as-of date and dbt vars a build stands on: the data's own, mailroom.yml, the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailroom import runner
from mailroom.cli import app
from mailroom.settings import SettingsError, settings_vars
from mailroom.warehouse import connect, read_metadata, set_metadata

cli = CliRunner()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_settings_file_vars_and_as_of(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mailroom.yml",
        "as_of_date: 2025-12-31\nvars:\n  purchase_horizon_days: 90\n  history_loaded_until: '2025-03-01 00:00:00'\n",
    )
    assert settings_vars(path) == {
        "as_of_date": "2025-12-31",
        "purchase_horizon_days": 90,
        "history_loaded_until": "2025-03-01 00:00:00",
    }
    assert settings_vars(tmp_path / "absent.yml") == {}
    for text, said in (
        ("as_of: 2025-12-31\n", "unknown keys ['as_of']"),
        ("vars: [1, 2]\n", "`vars` must be a mapping"),
        ("- a\n", "must be a mapping"),
        ("vars: {a: [\n", "not valid YAML"),
    ):
        with pytest.raises(SettingsError, match=said.replace("[", r"\[").replace("]", r"\]")):
            settings_vars(write(tmp_path / "bad.yml", text))


def test_the_command_line_beats_the_file_which_beats_the_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MAILROOM_SETTINGS", str(tmp_path / "mailroom.yml"))
    with connect() as con:
        set_metadata(con, {"as_of": "2025-06-30", "people": "12"})
        set_metadata(con, {"as_of": "2025-07-31"})  # a later load moves it on
        assert read_metadata(con) == {"as_of": "2025-07-31", "people": "12"}
    assert runner.build_vars() == {"as_of_date": "2025-07-31"}
    write(tmp_path / "mailroom.yml", "as_of_date: 2025-09-30\nvars: {churn_horizon_days: 60}\n")
    assert runner.build_vars() == {"as_of_date": "2025-09-30", "churn_horizon_days": 60}
    assert runner.build_vars(extra_vars={"as_of_date": "2025-10-31"}) == {
        "as_of_date": "2025-10-31",
        "churn_horizon_days": 60,
    }
    result = cli.invoke(app, ["summary"])
    assert result.exit_code == 0, result.output
    assert "vars: as_of_date=2025-09-30, churn_horizon_days=60" in " ".join(result.output.split())

    write(tmp_path / "mailroom.yml", "asof: 2025-09-30\n")
    for command in (["build"], ["summary"]):
        result = cli.invoke(app, command)
        assert result.exit_code == 2 and "unknown keys ['asof']" in result.output


def test_load_sets_the_as_of_date_of_the_history(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv("MAILROOM_SETTINGS", str(tmp_path / "none.yml"))
    log = write(
        tmp_path / "tx.csv",
        "customer_id,order_date,amount\nC1,2025-06-01,10.00\nC2,2025-06-29,12.50\n",
    )
    result = cli.invoke(
        app, ["load", str(log), "--preset", "transaction_log", "--as-of", "2025-06-30"]
    )
    assert result.exit_code == 0, result.output
    assert "as-of date 2025-06-30" in result.output
    assert runner.build_vars() == {"as_of_date": "2025-06-30"}
    result = cli.invoke(
        app, ["load", str(log), "--preset", "transaction_log", "--as-of", "2025-06-31"]
    )
    assert result.exit_code == 2  # not a date
