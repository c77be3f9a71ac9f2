"""Shared fixtures: a small generated world, built once per session with a real dbt build.

Also the one loader of dbt Python model files for the tests that call their functions.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pickle
import shutil
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

# dbt's target folder (manifest, partial parse, run results) and log of one
# pytest worker: two workers building at once must not write the same files.
# Assigned, not defaulted: pytest-xdist's workers inherit the environment of
# the controller, which imports this file first as "main" (with setdefault,
# both workers wrote target/pytest-main, and each one's partial parse state
# was the other's: every dbt command parsed the whole project again).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
os.environ["DBT_TARGET_PATH"] = str(PROJECT_DIR / "target" / f"pytest-{_WORKER}")
os.environ["DBT_LOG_PATH"] = str(PROJECT_DIR / "logs" / f"pytest-{_WORKER}")
# dbt unit tests do not read the warehouse: they run in the session world's build
# (and on the snowflake target in test_portability), not again in every test's
# own build, where they cost a quarter of the build's time. dbt's own setting.
UNIT_TESTS_OFF = {"DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"}
for _key, _value in UNIT_TESTS_OFF.items():
    os.environ.setdefault(_key, _value)

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


@pytest.fixture
def with_unit_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt builds in this test run the dbt unit tests too."""
    for key in UNIT_TESTS_OFF:
        monkeypatch.delenv(key, raising=False)


def _build_shared_world(shared: Path) -> None:
    """Generate and build the small world into `shared`, with dbt's target files beside it."""
    from mailroom import runner

    warehouse, truth = shared / "warehouse.duckdb", shared / "truth"
    saved = {key: os.environ.pop(key, None) for key in UNIT_TESTS_OFF}
    try:
        with using_warehouse(warehouse):
            generate_world(SMALL_WORLD, warehouse=warehouse, truth_dir=truth)
            result = runner.dbt_build(target="dev")
            runner.release_warehouse()
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
    (shared / "target").mkdir()
    for name in ("manifest.json", "semantic_manifest.json", "partial_parse.msgpack"):
        if (runner.target_dir() / name).exists():
            shutil.copy2(runner.target_dir() / name, shared / "target" / name)
    (shared / "build.pickle").write_bytes(pickle.dumps(result))


@pytest.fixture(scope="session")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltWorld]:
    """The small world, generated and built once per test run; each worker gets its own copy.

    The first pytest-xdist worker that needs it builds it into the run's shared
    temporary folder under a file lock; every worker (that one included) then
    copies the warehouse, the truth files and dbt's manifest, so tests that
    write to their world see only their own worker's writes, as before.
    """
    from mailroom import runner

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if _WORKER != "main" else base) / "shared-world"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (shared / "build.pickle").exists():
                shutil.rmtree(shared, ignore_errors=True)
                shared.mkdir()
                _build_shared_world(shared)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    root = tmp_path_factory.mktemp("world")
    warehouse, truth = root / "warehouse.duckdb", root / "truth"
    shutil.copy2(shared / "warehouse.duckdb", warehouse)
    shutil.copytree(shared / "truth", truth)
    runner.target_dir().mkdir(parents=True, exist_ok=True)
    for path in (shared / "target").iterdir():
        shutil.copy2(path, runner.target_dir() / path.name)
    build = pickle.loads((shared / "build.pickle").read_bytes())
    with using_warehouse(warehouse):
        yield BuiltWorld(warehouse=warehouse, truth=truth, build=build)


# The modules that take longest (seconds of setup and calls on a loaded two-core
# machine, from `--durations`, 2026-12-07), longest first. With
# `--no-loadscope-reorder` (Makefile) pytest-xdist hands modules out in this
# order, longest first, so no long module starts last and leaves a core idle
# at the end; test_serve, second, builds the session world while the other
# worker runs test_portability, which does not need it. Unlisted modules follow
# in their usual order. A stale list costs time, never correctness.
LONGEST_FIRST = (
    "test_portability",  # 190: the whole project under fakesnow
    "test_serve",  # 63 + the session world
    "test_demo",  # 156: the main job and two more builds
    "test_history",  # 141
    "test_propensity",  # 125 + the session world
    "test_incremental",  # 115
    "test_backtest",  # 100
    "test_presets",  # 67
    "test_identity",  # 57
    "test_trigger",  # 45 + the session world
    "test_customers",  # 57 + the session world
    "test_staging",  # 43 + the session world
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep what shares a built warehouse on one pytest-xdist worker (`--dist loadgroup`),
    and start the longest modules first (LONGEST_FIRST).

    `tryfirst`: xdist's worker reads the `xdist_group` marks in its own
    pytest_collection_modifyitems; without it, that ran first and found no
    mark, so a module's tests were spread over both workers (each built its
    own world, and a module-scoped server saw half of its module's traffic).

    Each module runs on one worker, so its module-scoped fixtures (their own
    small builds, the fake servers) are built once and see all of its tests.
    The session's `built_world` is built once per run and copied by each
    worker that needs it.
    """
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rpartition(".")[2], len(rank)))
    for item in items:
        group = item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
