"""The embedded DuckDB warehouse: where it lives and how the raw schema is created."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from mailroom.contract import RAW_SCHEMA, load_contract

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
PROJECT_SCHEMAS = ("raw", "staging", "intermediate", "marts", "sync_state")


def warehouse_path() -> Path:
    return Path(os.environ.get("WAREHOUSE_PATH", DEFAULT_WAREHOUSE))


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
    try:
        yield con
    finally:
        con.close()


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every contract table (empty) that does not exist yet.

    Downstream models can then rely on every source existing, even for a shop
    that has no web or ESP data yet.
    """
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for table in load_contract().values():
        con.execute(table.create_sql())


def table_counts(con: duckdb.DuckDBPyConnection, schema: str) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
    ]
    return {n: con.execute(f'select count(*) from {schema}."{n}"').fetchone()[0] for n in names}
