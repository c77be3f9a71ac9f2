"""Build the SQL models on the `snowflake` target without an account.

dbt-snowflake runs against `fakesnow`, which patches the Snowflake connector
and translates Snowflake SQL onto an in-memory DuckDB. The raw tables of a
local warehouse are copied in first, so the models run on real rows.

dbt Python models run on Snowflake as Snowpark stored procedures, which
fakesnow cannot host. One `dbt build` runs everything anyway: the Python code
dbt-snowflake generates for the procedure (the model, dbt's `dbtObj`,
`materialize`, `main`) runs in-process instead, with a session whose refs
read the fake account (as pandas, the way `.to_pandas()` reads them on
Snowflake) and whose `save_as_table` writes the model's table back. So the
SQL on both sides of a Python model is built and tested on the snowflake
target, in dbt's own order.

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
    emulated = _patch_dbt_snowflake()
    emulated.clear()
    for var in ("SNOWFLAKE_ACCOUNT", "SNOWFLAKE_USER"):
        os.environ.setdefault(var, "fake")
    os.environ["SNOWFLAKE_DATABASE"] = FAKE_DATABASE
    os.environ["SNOWFLAKE_SCHEMA"] = FAKE_SCHEMA
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    work_dir.mkdir(parents=True, exist_ok=True)
    args = [
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
        _collect(out, runner.invoke(["build", *args, "--exclude", *BUILTIN_TESTS]), emulated)
        # A second run of the incremental models takes their incremental path
        # (key batches, delete+insert) in Snowflake SQL too.
        if out.success:
            second = runner.invoke(["run", *args, "--select", *INCREMENTAL_MODELS])
            out.success = out.success and bool(second.success)
            for r in getattr(second.result, "results", None) or []:
                out.statuses[f"{r.node.unique_id} (incremental run)"] = str(r.status)
    out.success = out.success and not out.parse_errors
    return out


def _collect(out: PortabilityResult, res, emulated: set[str]) -> None:
    out.success = out.success and bool(res.success)
    if res.exception is not None:
        out.error = str(res.exception)
    for r in getattr(res.result, "results", None) or []:
        status = str(r.status)
        if r.node.unique_id in emulated and status == "success":
            status = "success (emulated)"
        out.statuses[r.node.unique_id] = status
        code = getattr(r.node, "compiled_code", None)
        if r.node.resource_type == "model" and getattr(r.node, "language", "sql") == "sql" and code:
            errors = parse_snowflake(code)
            if errors:
                out.parse_errors[r.node.unique_id] = errors


_EMULATED: set[str] = set()


def _patch_dbt_snowflake() -> set[str]:
    """Run Python models in-process and read fetched results without a second query.

    `submit_python_job` would send the model as a Snowpark stored procedure;
    here the very code dbt-snowflake generated for it (the model, dbt's
    `dbtObj`, `materialize` and `main`) runs with a session backed by the fake
    account. Fetched results take their column names from the result itself:
    the connector's `cursor.description` makes fakesnow parse, translate and
    describe the statement a second time. Returns the set that collects the
    ids of the models run this way.
    """
    from dbt.adapters.snowflake.connections import SnowflakeConnectionManager
    from dbt.adapters.snowflake.impl import SnowflakeAdapter

    if getattr(SnowflakeAdapter, "_mailroom_patched", False):
        return _EMULATED
    get_result = SnowflakeConnectionManager.get_result_from_cursor

    def submit_python_job(self, parsed_model: dict, compiled_code: str):
        from dbt.adapters.contracts.connection import AdapterResponse

        conn = self.connections.get_thread_connection().handle
        namespace: dict = {"__name__": parsed_model["name"]}
        exec(compile(compiled_code, parsed_model["original_file_path"], "exec"), namespace)
        namespace["main"](_FakeSession(conn, parsed_model))
        _EMULATED.add(parsed_model["unique_id"])
        return AdapterResponse(_message="SUCCESS 1", code="SUCCESS", rows_affected=1)

    def get_result_from_cursor(cls, cursor, limit):
        from dbt_common.clients.agate_helper import table_from_data_flat

        arrow = getattr(cursor, "_arrow_table", None)
        if arrow is None:
            return get_result.__func__(cls, cursor, limit)
        names = list(arrow.column_names)
        rows = cursor.fetchmany(limit) if limit else cursor.fetchall()
        return table_from_data_flat(cls.process_results(names, rows), names)

    SnowflakeAdapter.submit_python_job = submit_python_job
    SnowflakeConnectionManager.get_result_from_cursor = classmethod(get_result_from_cursor)
    SnowflakeAdapter._mailroom_patched = True
    return _EMULATED


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


class _FakeSession:
    """The Snowpark session dbt-snowflake's generated `main` receives: reads
    refs from the fake account and writes the model's frame back as its table.
    No `create_dataframe`, so the models take their non-Snowpark path."""

    def __init__(self, conn, node: dict) -> None:
        self.conn, self.node = conn, node
        self.frame = None

    def table(self, name: str) -> _FakeRelation:
        return _FakeRelation(self.conn, name)

    def use_database(self, name: str) -> None:
        pass

    def use_schema(self, name: str) -> None:
        pass

    def createDataFrame(self, frame) -> _FakeSession:  # Snowpark's name
        self.frame = frame
        return self

    @property
    def write(self) -> _FakeSession:
        return self

    def mode(self, mode: str) -> _FakeSession:
        assert mode == "overwrite", mode
        return self

    def save_as_table(self, name: str, table_type: str = "") -> None:
        _write_table(self.conn, self.frame, self.node)


def _write_table(conn, frame, node: dict) -> None:
    from snowflake.connector.pandas_tools import write_pandas

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
