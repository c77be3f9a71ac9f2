"""Shared fixtures: a small generated world, built once per session with a real dbt build.

Also the one loader of dbt Python model files for the tests that call their functions.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import duckdb
import pytest
from typer.testing import CliRunner, Result

from mailroom import PROJECT_DIR
from mailroom.generator import WorldConfig, generate_world
from mailroom.warehouse import using_warehouse

# dbt's target folder (manifest, partial parse, run results) of one pytest worker:
# two workers building at once must not write the same files.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
os.environ.setdefault("DBT_TARGET_PATH", str(PROJECT_DIR / "target" / f"pytest-{_WORKER}"))
os.environ.setdefault("DBT_LOG_PATH", str(PROJECT_DIR / "logs" / f"pytest-{_WORKER}"))

SMALL_WORLD = WorldConfig(people=1500, chunk_size=600, seed=7)


@dataclass
class BuiltWorld:
    warehouse: Path
    truth: Path
    build: object  # runner.BuildResult

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse)) as con:
            return con.execute(sql).fetchall()

    def df(self, sql: str):
        with duckdb.connect(str(self.warehouse)) as con:
            return con.execute(sql).df()


def load_model_module(path: str | Path) -> ModuleType:
    """A dbt Python model file imported as a module named after it, to test its functions.

    `path` is absolute or relative to the project. Model files are not a package
    (dbt reads them itself), so they are loaded by path; each call gives a fresh module.
    """
    path = PROJECT_DIR / path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUNNER = CliRunner()


def load(*args: object) -> Result:
    """`mailroom load ARGS...` through the command line, as a user runs it."""
    from mailroom.cli import app

    result = RUNNER.invoke(app, ["load", *map(str, args)])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh warehouse path (in a folder not yet made) in WAREHOUSE_PATH for one test."""
    path = tmp_path / "wh" / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(path))
    return path


@pytest.fixture()
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty warehouse path in WAREHOUSE_PATH for one test."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(path))
    return path


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWorld]:
    from mailroom import runner

    root = tmp_path_factory.mktemp("world")
    warehouse, truth = root / "warehouse.duckdb", root / "truth"
    with using_warehouse(warehouse):
        generate_world(SMALL_WORLD, warehouse=warehouse, truth_dir=truth)
        result = runner.dbt_build(target="ci")
        yield BuiltWorld(warehouse=warehouse, truth=truth, build=result)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep what shares a built warehouse on one pytest-xdist worker (`--dist loadgroup`).

    `tryfirst`: xdist's worker reads the `xdist_group` marks in its own
    pytest_collection_modifyitems; without it, that ran first and found no
    mark, so a module's tests were spread over both workers (each built its
    own world, and a module-scoped server saw half of its module's traffic).

    Each module runs on one worker, so its module-scoped fixtures (their own
    small builds, the fake servers) are built once and see all of its tests.
    The session's `built_world` is built at most once per worker: grouping
    all of its users on one worker saved that build but lost more to the
    idle other core (pytest 8 min 32 s against 8 min 08 s, 2026-12-07).
    """
    for item in items:
        group = item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
