"""The embedded DuckDB warehouse: where it lives and how the raw schema is created."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from mailroom.contract import RAW_SCHEMA, load_contract

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
# DuckDB's memory budget: a size ('8GB') or a share of RAM. At most half of the
# machine, so that the Python models' frames and the operating system fit
# beside it; past it DuckDB spills to <warehouse>.tmp. profiles.yml has the
# same default (tests/python/test_yaml.py keeps them equal).
MEMORY_LIMIT_VAR = "MAILROOM_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "40%"
PROJECT_SCHEMAS = ("raw", "staging", "intermediate", "marts", "sync_state")
# Facts about the warehouse's data as key/value text: the as-of date its history
# ends on ('as_of', set by `mailroom load --as-of` or the sample-world generator)
# and, for a sample world, the generator's settings.
METADATA_TABLE = "world_metadata"


def warehouse_path() -> Path:
    return Path(os.environ.get("WAREHOUSE_PATH", DEFAULT_WAREHOUSE))


@contextmanager
def using_warehouse(path: Path) -> Iterator[Path]:
    """WAREHOUSE_PATH pointing at `path` for the block (dbt runs in-process read it)."""
    old = os.environ.get("WAREHOUSE_PATH")
    os.environ["WAREHOUSE_PATH"] = str(path)
    try:
        yield path
    finally:
        if old is None:
            os.environ.pop("WAREHOUSE_PATH", None)
        else:
            os.environ["WAREHOUSE_PATH"] = old


def memory_limit() -> str:
    """DuckDB's memory_limit for this process: $MAILROOM_DUCKDB_MEMORY_LIMIT or the default."""
    return os.environ.get(MEMORY_LIMIT_VAR) or DEFAULT_MEMORY_LIMIT


@contextmanager
def connect(
    path: Path | None = None, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    path = Path(path or warehouse_path())
    if path.stem.lower() in PROJECT_SCHEMAS:
        # DuckDB names the catalog after the file; raw.duckdb would shadow schema raw.
        raise ValueError(
            f"warehouse file {path.name!r} is named like one of the project's schemas "
            f"{PROJECT_SCHEMAS}; choose another name (e.g. warehouse.duckdb)"
        )
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    # Set, not passed as config: a config differing from an instance this process already
    # holds (dbt-duckdb's, after an in-process build) would refuse the connection.
    con.execute(f"set memory_limit = '{memory_limit()}'")
    try:
        yield con
    finally:
        con.close()


def read_metadata(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """raw.world_metadata as a dict ({} when the table does not exist)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [RAW_SCHEMA, METADATA_TABLE],
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(con.execute(f"select key, value from {RAW_SCHEMA}.{METADATA_TABLE}").fetchall())


def set_metadata(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    """Set keys of raw.world_metadata (creating it), keeping the others."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    con.execute(
        f"create table if not exists {RAW_SCHEMA}.{METADATA_TABLE} (key varchar, value varchar)"
    )
    for key, value in values.items():
        con.execute(f"delete from {RAW_SCHEMA}.{METADATA_TABLE} where key = ?", [key])
        con.execute(f"insert into {RAW_SCHEMA}.{METADATA_TABLE} values (?, ?)", [key, value])


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every contract table (empty) that does not exist yet, and add the
    contract columns an existing table lacks (NULL in its rows).

    Downstream models can then rely on every source and column existing, even for
    a shop that has no web or ESP data yet, or a warehouse loaded before the
    contract gained a column (e.g. address_line_2).
    """
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    present: dict[str, set[str]] = {}
    for table_name, column_name in con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ?",
        [RAW_SCHEMA],
    ).fetchall():
        present.setdefault(table_name, set()).add(column_name)
    for table in load_contract().values():
        if table.name not in present:
            con.execute(table.create_sql())
            continue
        for column in table.columns:
            if column.name not in present[table.name]:
                con.execute(
                    f'alter table {RAW_SCHEMA}."{table.name}" '
                    f'add column "{column.name}" {column.sql_type}'
                )


def table_counts(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
    ]
    return {n: con.execute(f'select count(*) from {schema}."{n}"').fetchone()[0] for n in names}
