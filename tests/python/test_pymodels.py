"""mailroom.pymodels, the one helper package of the dbt Python models.

The package is what a Python model may import besides numpy, pandas and
scipy; on Snowflake it travels as a zip (mailroom.pymodels.ship). These tests
need no warehouse: the bridge on DuckDB relations, the zip importable on its
own, and no model carrying a copy of a helper.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pandas as pd

from mailroom import PROJECT_DIR
from mailroom.pymodels import bridge, ship

PACKAGE_DIR = PROJECT_DIR / "mailroom" / "pymodels"
PYTHON_MODELS = sorted((PROJECT_DIR / "python_models").rglob("*.py"))


def test_the_bridge_reads_duckdb_relations_with_lower_case_names() -> None:
    with duckdb.connect() as con:
        relation = con.sql("select 'p1' as PERSON_ID, 0.5 as Score, 3 as visits")
        assert list(bridge.to_pandas(relation).columns) == ["person_id", "score", "visits"]
        got = bridge.to_pandas(relation, ["person_id", "visits"])
    assert list(got.columns) == ["person_id", "visits"]
    assert got.iloc[0].tolist() == ["p1", 3]


def test_for_warehouse_upper_cases_only_for_snowpark() -> None:
    frame = pd.DataFrame({"person_id": ["a"], "cluster_id": [0]})

    class SnowparkSession:
        def create_dataframe(self, *args):  # what a Snowpark session offers
            return None

    assert list(bridge.for_warehouse(frame, None).columns) == ["person_id", "cluster_id"]
    assert list(bridge.for_warehouse(frame, object()).columns) == ["person_id", "cluster_id"]
    assert list(bridge.for_warehouse(frame, SnowparkSession()).columns) == [
        "PERSON_ID",
        "CLUSTER_ID",
    ]


def test_the_zip_holds_exactly_what_snowflake_needs(tmp_path: Path) -> None:
    path = ship.zip_package(tmp_path / "mailroom_pymodels.zip")
    expected = {"mailroom/__init__.py"} | {
        f"mailroom/pymodels/{p.name}" for p in PACKAGE_DIR.glob("*.py")
    }
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == expected
        assert archive.read("mailroom/pymodels/btyd.py") == (PACKAGE_DIR / "btyd.py").read_bytes()
    # the same sources give the same bytes
    again = ship.zip_package(tmp_path / "again.zip")
    assert again.read_bytes() == path.read_bytes()


def test_the_zip_alone_imports_the_helpers_and_nothing_heavy(tmp_path: Path) -> None:
    # A fresh interpreter outside the project, the zip first on its path (as on
    # Snowflake): the modules come from the zip and pull in no other part of
    # mailroom, nor xgboost or snowflake-ml (imported inside functions only).
    path = ship.zip_package(tmp_path / "mailroom_pymodels.zip")
    code = f"""
import sys
sys.path.insert(0, {str(path)!r})
import mailroom.pymodels.bridge, mailroom.pymodels.btyd, mailroom.pymodels.propensity
from mailroom.pymodels.btyd import fit_sample
for module in ("bridge", "btyd", "propensity"):
    assert sys.modules["mailroom.pymodels." + module].__file__.startswith({str(path)!r})
others = sorted(m for m in sys.modules if m.startswith("mailroom.") and not m.startswith("mailroom.pymodels"))
assert not others, others
# (the bare `snowflake` namespace is imported at startup by snowpark's .pth file)
heavy = ("xgboost", "snowflake.ml", "snowflake.snowpark", "sklearn", "duckdb", "dbt")
heavy = sorted(m for m in heavy if m in sys.modules)
assert not heavy, heavy
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def _code(function: ast.FunctionDef) -> str:
    """A function's code without its docstring."""
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return ast.dump(ast.Module(body=body, type_ignores=[])) + ast.dump(function.args)


def _functions(path: Path) -> dict[str, str]:
    tree = ast.parse(path.read_text())
    return {n.name: _code(n) for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_no_python_model_carries_a_copy_of_a_helper() -> None:
    helpers = {}
    for module in PACKAGE_DIR.glob("*.py"):
        helpers.update({code: f"{module.stem}.{name}" for name, code in _functions(module).items()})
    copies = [
        f"{path.stem}.{name} is {helpers[code]}"
        for path in PYTHON_MODELS
        for name, code in _functions(path).items()
        if code in helpers
    ]
    assert not copies, f"import these from mailroom.pymodels: {copies}"


def test_snowflake_ml_noise_is_ignored_for_the_whole_process_and_nothing_else() -> None:
    """dbt runs two models in threads: a filter scoped by warnings.catch_warnings in one
    model was undone when the other's block ended, so the filters are process-wide."""
    import warnings

    from mailroom.pymodels.bridge import quiet_snowflake_ml

    with warnings.catch_warnings(record=True) as caught:  # puts the filters back afterwards
        warnings.simplefilter("always")
        quiet_snowflake_ml()
        for message in (
            "The sample input has 2000 rows. Using the first 100 rows",
            "X has feature names, but StandardScaler was fitted without",
            "a warning of the project's own",
        ):
            warnings.warn(message, UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["a warning of the project's own"]
