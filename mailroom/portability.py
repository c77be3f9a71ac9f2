"""Build the SQL models on the `snowflake` target without an account.

dbt-snowflake runs against `fakesnow`, which patches the Snowflake connector
and translates Snowflake SQL onto an in-memory DuckDB. The raw tables of a
local warehouse are copied in first, so the models run on real rows.

dbt Python models run on Snowflake as Snowpark stored procedures, which
fakesnow cannot host. The build therefore runs in two passes: everything not
downstream of a Python model; then each Python model's own `model(dbt,
session)` function, called here with its refs read from the fake account
(as pandas, the way `.to_pandas()` reads them on Snowflake) and its result
written back as the model's table; then everything downstream. So the SQL on
both sides of a Python model is built and tested on the snowflake target.

fakesnow is an emulator with gaps; three of them would fail a plain dbt
build, and are bridged here (each is a no-op on real Snowflake semantics):
- dbt creates `temporary` tables with a database-qualified name, which DuckDB
  refuses: they become ordinary tables;
- dbt's merge `insert (..) values (..)` uses unqualified source columns, which
  DuckDB finds ambiguous: they are qualified with the source alias;
- explicit begin/commit around a merge, and table and column comments, are not
  emulated (a dollar-quoted comment with an apostrophe fails to parse): those
  statements are skipped.
Compiled SQL is also parsed with sqlfluff's Snowflake dialect.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from mailroom import PROJECT_DIR
from mailroom.contract import RAW_SCHEMA, load_contract

# dbt's own generic tests compile to the same trivial SQL on every adapter and
# are half of the nodes; under fakesnow each node costs ~0.3 s of SQL
# translation, so the check runs the project's own tests (singular, generic
# macros of tests/dbt, unit tests) and leaves these to dbt-snowflake.
BUILTIN_TESTS = ["test_name:not_null", "test_name:unique", "test_name:accepted_values",
                 "test_name:relationships"]  # fmt: skip
# Built a second time, so their incremental SQL runs on the snowflake target too.
INCREMENTAL_MODELS = [
    "base_web__events",
    "base_esp__email_events",
    "base_shop__orders",
    "base_shop__order_items",
]
FAKE_DATABASE = "MAILROOM"
FAKE_SCHEMA = "PUBLIC"
NOP_STATEMENTS = [
    r"(?s)\s*(/\*.*?\*/\s*)?alter\s+table\s+\S+\s+alter\b",
    r"\s*(--[^\n]*\n\s*)*(begin|commit|rollback)\b",
    r"(?s)\s*(/\*.*?\*/\s*)?alter\s+session\s+set\s+query_tag",
    r"(?s)\s*(/\*.*?\*/\s*)?comment\s+on\s+table\b",
]


@dataclass
class PortabilityResult:
    success: bool
    statuses: dict[str, str] = field(default_factory=dict)
    parse_errors: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


def _patch_fakesnow() -> None:
    import fakesnow.cursor as fc
    import fakesnow.transforms as ft
    from sqlglot import exp

    if getattr(fc.FakeSnowflakeCursor, "_mailroom_patched", False):
        return
    transform = fc.FakeSnowflakeCursor._transform

    def _transform(self, expression, params):
        if isinstance(expression, exp.Create) and expression.kind in ("TABLE", "VIEW"):
            table = expression.find(exp.Table)
            props = expression.args.get("properties")
            if table is not None and table.catalog and props is not None:
                for prop in [p for p in props.expressions if isinstance(p, exp.TemporaryProperty)]:
                    prop.pop()
        return transform(self, expression, params)

    merge = ft.merge

    def _merge(expression):
        if isinstance(expression, exp.Merge):
            source = expression.args["using"].alias_or_name
            for when in expression.args["whens"]:
                then = when.args.get("then")
                if isinstance(then, exp.Insert) and then.expression is not None:
                    for col in then.expression.expressions:
                        if isinstance(col, exp.Column) and not col.table:
                            col.set("table", exp.to_identifier(source))
        return merge(expression)

    fc.FakeSnowflakeCursor._transform = _transform
    ft.merge = _merge
    fc.FakeSnowflakeCursor._mailroom_patched = True


def _copy_raw(conn, warehouse: Path | None) -> None:
    import duckdb
    from snowflake.connector.pandas_tools import write_pandas

    cur = conn.cursor()
    cur.execute(f"create schema if not exists {RAW_SCHEMA}")
    local = duckdb.connect(str(warehouse)) if warehouse else None
    try:
        for table in load_contract().values():
            cols = ", ".join(
                f"{c.name} {'timestamp_ntz' if c.sql_type == 'timestamp' else 'varchar'}"
                for c in table.columns
            )
            cur.execute(f"create or replace table {RAW_SCHEMA}.{table.name} ({cols})")
            if local is None:
                continue
            df = local.execute(f'select * from {RAW_SCHEMA}."{table.name}"').df()
            if len(df):
                df.columns = [c.upper() for c in df.columns]
                write_pandas(
                    conn, df, table.name.upper(), database=FAKE_DATABASE, schema=RAW_SCHEMA.upper()
                )
    finally:
        if local is not None:
            local.close()


def parse_snowflake(sql: str) -> list[str]:
    """sqlfluff parse errors of compiled SQL in the Snowflake dialect ([] when it parses)."""
    import sqlfluff
    from sqlfluff.api.simple import APIParsingError

    try:
        sqlfluff.parse(sql, dialect="snowflake")
    except APIParsingError as exc:
        return [f"L{v.line_no}:{v.line_pos} {v.desc()}" for v in exc.violations]
    return []


def build_on_fake_snowflake(
    warehouse: Path | None,
    work_dir: Path,
    as_of_date: str | None = None,
) -> PortabilityResult:
    """`dbt build --target snowflake` under fakesnow, on a copy of `warehouse`'s raw tables."""
    warnings.filterwarnings("ignore")
    import fakesnow
    import snowflake.connector
    from dbt.cli.main import dbtRunner

    _patch_fakesnow()
    for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER"):
        os.environ.setdefault(var, "fake")
    os.environ["SNOWFLAKE_DATABASE"] = FAKE_DATABASE
    os.environ["SNOWFLAKE_SCHEMA"] = FAKE_SCHEMA
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    work_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "build",
        "--target", "snowflake",
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
    ]  # fmt: skip
    if as_of_date:
        args += ["--vars", json.dumps({"as_of_date": as_of_date})]
    out = PortabilityResult(success=True)
    with fakesnow.patch(nop_regexes=NOP_STATEMENTS):
        # Create database and schema before dbt's threads race to do it.
        conn = snowflake.connector.connect(
            user="fake", password="fake", account="fake", database=FAKE_DATABASE, schema=FAKE_SCHEMA
        )
        _copy_raw(conn, warehouse)
        runner = dbtRunner()
        # Python models live under python_models/ (SPEC layout).
        _collect(out, runner.invoke([*args, "--exclude", "path:python_models+", *BUILTIN_TESTS]))
        manifest = json.loads((work_dir / "target" / "manifest.json").read_text())
        python_models = _python_models(manifest)
        # One wave per Python model, in dependency order: run it in-process,
        # then build what follows it, except what still waits on a later one.
        for i, node in enumerate(python_models):
            try:
                _run_python_model(conn, manifest, node)
                out.statuses[node["unique_id"]] = "success (emulated)"
            except Exception as exc:  # a failing model is a result, not a crash
                out.statuses[node["unique_id"]] = f"error: {exc}"
                out.success = False
                break
            waiting = [f"{later['name']}+" for later in python_models[i + 1 :]]
            wave = ["--select", f"{node['name']}+", "--exclude", node["name"], *waiting]
            wave += BUILTIN_TESTS
            _collect(out, runner.invoke(args + wave))
        # A second run of the incremental models takes their incremental path
        # (key batches, delete+insert) in Snowflake SQL too.
        if out.success:
            second = runner.invoke(["run", *args[1:], "--select", *INCREMENTAL_MODELS])
            out.success = out.success and bool(second.success)
            for r in getattr(second.result, "results", None) or []:
                out.statuses[f"{r.node.unique_id} (incremental run)"] = str(r.status)
    out.success = out.success and not out.parse_errors
    return out


def _collect(out: PortabilityResult, res) -> None:
    out.success = out.success and bool(res.success)
    if res.exception is not None:
        out.error = str(res.exception)
    for r in getattr(res.result, "results", None) or []:
        out.statuses[r.node.unique_id] = str(r.status)
        code = getattr(r.node, "compiled_code", None)
        if r.node.resource_type == "model" and code:
            errors = parse_snowflake(code)
            if errors:
                out.parse_errors[r.node.unique_id] = errors


def _python_models(manifest: dict) -> list[dict]:
    """The project's Python models in dependency order (through SQL models too)."""
    nodes = manifest["nodes"]
    ordered: list[dict] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen or uid not in nodes:
            return
        seen.add(uid)
        for parent in nodes[uid].get("depends_on", {}).get("nodes", []):
            visit(parent)
        node = nodes[uid]
        if node["resource_type"] == "model" and node.get("language") == "python":
            ordered.append(node)

    for uid in sorted(nodes):
        visit(uid)
    return ordered


class _FakeRelation:
    """A table of the fake account, with the bits of Snowpark's DataFrame the models use."""

    def __init__(
        self, conn, relation_name: str, columns: str = "*", where: str | None = None
    ) -> None:
        self.conn, self.relation_name = conn, relation_name
        self.columns, self.where = columns, where

    def select(self, *columns: str) -> _FakeRelation:
        return _FakeRelation(self.conn, self.relation_name, ", ".join(columns), self.where)

    def filter(self, condition: str) -> _FakeRelation:
        where = condition if self.where is None else f"({self.where}) and ({condition})"
        return _FakeRelation(self.conn, self.relation_name, self.columns, where)

    def to_pandas(self):
        sql = f"select {self.columns} from {self.relation_name}"
        if self.where:
            sql += f" where {self.where}"
        return self.conn.cursor().execute(sql).fetch_pandas_all()


class _FakeThis:
    """`dbt.this`: the model's own relation."""

    def __init__(self, node: dict) -> None:
        self.database, self.schema, self.identifier = (
            node["database"],
            node["schema"],
            node["alias"],
        )

    def __str__(self) -> str:
        return f"{self.database}.{self.schema}.{self.identifier}"


class _FakeDbt:
    """The `dbt` object a Python model receives, backed by the fake account."""

    def __init__(self, conn, manifest: dict, node: dict) -> None:
        self._conn, self._manifest, self._node = conn, manifest, node
        config = dict(node.get("config", {}))
        self.config = _FakeConfig(config)
        # Each emulated run is a first run: incremental models build from scratch.
        self.this = _FakeThis(node)
        self.is_incremental = False

    def ref(self, name: str, *args, **kwargs) -> _FakeRelation:
        for n in self._manifest["nodes"].values():
            if n.get("name") == name and n["resource_type"] in ("model", "seed", "snapshot"):
                return _FakeRelation(self._conn, n["relation_name"])
        raise KeyError(f"ref {name!r} not found")

    def source(self, source_name: str, table_name: str) -> _FakeRelation:
        for n in self._manifest["sources"].values():
            if n["source_name"] == source_name and n["name"] == table_name:
                return _FakeRelation(self._conn, n["relation_name"])
        raise KeyError(f"source {source_name}.{table_name} not found")


class _FakeConfig:
    def __init__(self, values: dict) -> None:
        self._values = values

    def __call__(self, **kwargs) -> None:
        self._values.update(kwargs)

    def get(self, key: str, default=None):
        return self._values.get(key, default)

    def meta_get(self, key: str, default=None):
        return (self._values.get("meta") or {}).get(key, default)


def _run_python_model(conn, manifest: dict, node: dict) -> None:
    import importlib.util

    from snowflake.connector.pandas_tools import write_pandas

    path = PROJECT_DIR / node["original_file_path"]
    spec = importlib.util.spec_from_file_location(node["name"], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    frame = module.model(_FakeDbt(conn, manifest, node), session=None)
    frame = frame.copy()
    frame.columns = [str(c).upper() for c in frame.columns]
    table = f"{node['database']}.{node['schema']}.{node['alias'].upper()}"
    conn.cursor().execute(f"create schema if not exists {node['database']}.{node['schema']}")
    # Typed like Snowpark would (write_pandas' own inference misses dates and timestamps).
    columns = ", ".join(f"{c} {_snowflake_type(frame[c])}" for c in frame.columns)
    conn.cursor().execute(f"create or replace table {table} ({columns})")
    if len(frame):
        write_pandas(
            conn, frame, node["alias"].upper(), database=node["database"], schema=node["schema"]
        )


def _snowflake_type(values) -> str:
    """Snowflake column type of a pandas column."""
    import datetime as dt

    import pandas as pd

    kind = values.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "number(38, 0)"
    if kind == "f":
        return "float"
    if kind == "M":
        return "timestamp_ntz"
    sample = values.dropna()
    if len(sample) and all(
        isinstance(v, dt.date) and not isinstance(v, dt.datetime | pd.Timestamp)
        for v in sample.head(100)
    ):
        return "date"
    return "varchar"
