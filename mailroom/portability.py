"""Build the SQL models on the `snowflake` target without an account.

dbt-snowflake runs against `fakesnow`, which patches the Snowflake connector
and translates Snowflake SQL onto an in-memory DuckDB. The raw tables of a
local warehouse are copied in first, so the models run on real rows. Python
models are excluded (on Snowflake they run as stored procedures).

fakesnow is an emulator with gaps; three of them would fail a plain dbt
build, and are bridged here (each is a no-op on real Snowflake semantics):
- dbt creates `temporary` tables with a database-qualified name, which DuckDB
  refuses: they become ordinary tables;
- dbt's merge `insert (..) values (..)` uses unqualified source columns, which
  DuckDB finds ambiguous: they are qualified with the source alias;
- explicit begin/commit around a merge and column comments on tables are not
  emulated: those statements are skipped.
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

FAKE_DATABASE = "MAILROOM"
FAKE_SCHEMA = "PUBLIC"
NOP_STATEMENTS = [
    r"(?s)\s*(/\*.*?\*/\s*)?alter\s+table\s+\S+\s+alter\b",
    r"\s*(--[^\n]*\n\s*)*(begin|commit|rollback)\b",
    r"(?s)\s*(/\*.*?\*/\s*)?alter\s+session\s+set\s+query_tag",
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
    exclude: str = "path:python_models",
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
        "--exclude", exclude,
    ]  # fmt: skip
    if as_of_date:
        args += ["--vars", json.dumps({"as_of_date": as_of_date})]
    with fakesnow.patch(nop_regexes=NOP_STATEMENTS):
        # Create database and schema before dbt's threads race to do it.
        conn = snowflake.connector.connect(
            user="fake", password="fake", account="fake", database=FAKE_DATABASE, schema=FAKE_SCHEMA
        )
        _copy_raw(conn, warehouse)
        res = dbtRunner().invoke(args)
    out = PortabilityResult(success=bool(res.success))
    if res.exception is not None:
        out.error = str(res.exception)
    for r in getattr(res.result, "results", None) or []:
        out.statuses[r.node.unique_id] = str(r.status)
        code = getattr(r.node, "compiled_code", None)
        if r.node.resource_type == "model" and code:
            errors = parse_snowflake(code)
            if errors:
                out.parse_errors[r.node.unique_id] = errors
    out.success = out.success and not out.parse_errors
    return out
