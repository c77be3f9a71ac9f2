"""dbt Python models on Snowpark DataFrames, checked in Snowpark's local testing mode.

On Snowflake, `dbt.ref()` gives a Python model a Snowpark DataFrame (upper-case
column names) and the model's returned pandas frame is written back through
the session. Every model reads its refs and returns its frame through the one
bridge of mailroom.pymodels.bridge (`to_pandas`, `for_warehouse`). Here the
bridge, and whole models whose inputs are small enough for the local emulator
(it builds DataFrames cell by cell: 1,000 rows x 50 columns take ~16 s), run
on real Snowpark DataFrames and must give what they give on DuckDB.
snowflake-ml training needs a real account; these models fit their
estimators on pandas after the bridge, which is what runs here.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import load_model_module

from mailroom import PROJECT_DIR, runner
from mailroom.pymodels import bridge
from mailroom.pymodels.bridge import for_warehouse, to_pandas

PYTHON_MODELS = sorted((PROJECT_DIR / "python_models").rglob("*.py"))
# wall-clock stamps of when a model ran
RUN_TIMES = {"valued_at", "clustered_at", "scored_at", "measured_at", "trained_at"}


@pytest.fixture(scope="module")
def session():
    warnings.filterwarnings("ignore")
    from snowflake.snowpark import Session

    snowpark = Session.builder.config("local_testing", True).create()
    yield snowpark
    snowpark.close()


def snowpark_frame(session, frame: pd.DataFrame):
    """A Snowpark DataFrame of `frame` with the upper-case names Snowflake gives unquoted columns."""
    frame = frame.rename(columns=str.upper)
    # pandas' NA (nullable integer columns read from DuckDB) arrives from Snowflake as None
    for column in frame.columns:
        if frame[column].dtype.kind not in "fmM" and frame[column].isna().any():
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return session.create_dataframe(frame)


def test_the_bridge_reads_and_returns_snowpark_frames(session) -> None:
    frame = pd.DataFrame(
        {
            "person_id": ["p1", "p2", "p3"],
            "score": [0.25, None, 0.75],
            "as_of_date": [dt.date(2026, 9, 30)] * 3,
            "is_contactable": [True, False, True],
        }
    )
    relation = snowpark_frame(session, frame)
    # columns selected in the warehouse, names lower-cased for the model
    got = to_pandas(relation, ["person_id", "score"])
    assert list(got.columns) == ["person_id", "score"]
    pd.testing.assert_frame_equal(got, frame[["person_id", "score"]], check_dtype=False)
    assert list(to_pandas(relation).columns) == list(frame.columns)
    # returned with the names Snowflake folds unquoted identifiers to, and written back
    back = for_warehouse(got, session)
    assert list(back.columns) == ["PERSON_ID", "SCORE"]
    session.create_dataframe(back).write.save_as_table("bridge", mode="overwrite")
    assert session.table("bridge").select("PERSON_ID").to_pandas().shape == (3, 1)
    # DuckDB gets lower-case names unchanged
    assert list(for_warehouse(got, None).columns) == ["person_id", "score"]


def called_names(function: ast.FunctionDef) -> set[str]:
    return {
        node.func.id
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }


@pytest.mark.parametrize("path", PYTHON_MODELS, ids=lambda p: p.stem)
def test_every_python_model_goes_through_the_bridge(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "mailroom.pymodels.bridge"
        for alias in node.names
    }
    assert {"to_pandas", "for_warehouse"} <= imported <= set(dir(bridge))
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    shared = {name for name in dir(bridge) if callable(getattr(bridge, name))}
    assert not shared & set(functions), "a copy of the bridge"
    # refs read through to_pandas, the frame returned through for_warehouse
    assert {"to_pandas", "for_warehouse"} <= called_names(functions["model"])
    # and the model file runs with the package (what dbt-duckdb does in-process)
    module = load_model_module(path)
    assert module.to_pandas is to_pandas and module.for_warehouse is for_warehouse


class FakeDbt:
    """The `dbt` object of a Python model: refs from `relations`, config from the manifest."""

    def __init__(self, node: dict, relations: dict) -> None:
        self._relations = relations
        meta = dict(node["config"].get("meta") or {})
        self.config = type("Config", (), {"meta_get": staticmethod(meta.get)})()
        self.is_incremental = False

    def ref(self, name: str):
        return self._relations[name]


def manifest_node(name: str) -> dict:
    manifest = json.loads((runner.target_dir() / "manifest.json").read_text())
    return manifest["nodes"][f"model.mailroom.{name}"]


# model -> (refs, rows of each ref: a slice of people keeps the emulator fast)
WHOLE_MODELS = {
    "int_identity__match_parameters": (
        {
            "int_identity__candidate_patterns": "select * from intermediate.int_identity__candidate_patterns",
            "int_identity__random_pair_patterns": "select * from intermediate.int_identity__random_pair_patterns",
        }
    ),
    "fct_customer_value": (
        {
            "int_customers__features": "select * from intermediate.int_customers__features "
            "order by person_id limit 150"
        }
    ),
    "fct_customer_clusters": (
        {
            "int_customers__features": "select * from intermediate.int_customers__features "
            "order by person_id limit 150"
        }
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(WHOLE_MODELS))
def test_a_whole_model_gives_the_same_result_on_snowpark_as_on_duckdb(
    built_world, session, name: str
) -> None:
    node = manifest_node(name)
    module = load_model_module(node["original_file_path"])
    refs = WHOLE_MODELS[name]
    with duckdb.connect(str(built_world.warehouse)) as con:
        inputs = {ref: con.execute(sql).df() for ref, sql in refs.items()}
        on_duckdb = module.model(
            FakeDbt(node, {ref: con.sql(sql) for ref, sql in refs.items()}), None
        )
    on_snowpark = module.model(
        FakeDbt(node, {ref: snowpark_frame(session, df) for ref, df in inputs.items()}), session
    )
    assert list(on_snowpark.columns) == [c.upper() for c in on_duckdb.columns]
    assert len(on_duckdb) > 0
    on_snowpark.columns = [c.lower() for c in on_snowpark.columns]
    keep = [c for c in on_duckdb.columns if c not in RUN_TIMES]
    key = list(on_duckdb.columns[:2])
    pd.testing.assert_frame_equal(
        on_snowpark[keep].sort_values(key).reset_index(drop=True),
        on_duckdb[keep].sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    # and dbt-snowflake can write it back as the model's table
    session.create_dataframe(on_snowpark.rename(columns=str.upper).head(50)).write.save_as_table(
        name, mode="overwrite"
    )
    assert session.table(name).count() == min(50, len(on_snowpark))
