"""Hold back the last days of a sample world's loads, and land them later.

An incremental run needs "one more day of data" arriving after a build. The
generator simulates the whole world up to its as-of date D; `hold_back` then
moves every raw row the loader landed during the last `days` days (by
`_loaded_at`) from schema `raw` into schema `raw_pending` and moves the
world's as-of date back to D - days. `land` moves them in again, a day at a
time, and moves the as-of date forward: what arrives is what a loader would
have landed that day, including events that happened days earlier (late
webhooks), re-deliveries of events already loaded, and new versions of
records (refunds, cancellations, edited customers).

dbt never reads `raw_pending`. Holding back and then landing everything gives
back exactly the raw tables of the world generated without holding back.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from mailroom.contract import RAW_SCHEMA, load_contract

PENDING_SCHEMA = "raw_pending"
WORLD_TABLE = "world_metadata"
PENDING_KEY = "pending_until"


def _metadata(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    from mailroom.generator import read_world_metadata

    meta = read_world_metadata(con)
    if "as_of" not in meta:
        raise ValueError("the warehouse holds no sample world (raw.world_metadata has no as_of)")
    return meta


def _set_metadata(con: duckdb.DuckDBPyConnection, key: str, value: str | None) -> None:
    con.execute(f"delete from {RAW_SCHEMA}.{WORLD_TABLE} where key = ?", [key])
    if value is not None:
        con.execute(f"insert into {RAW_SCHEMA}.{WORLD_TABLE} values (?, ?)", [key, value])


def _day_end(day: dt.date) -> str:
    return (day + dt.timedelta(days=1)).isoformat()


def pending_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows waiting in raw_pending per table ({} when nothing is held back)."""
    tables = con.execute(
        "select table_name from information_schema.tables where table_schema = ? order by 1",
        [PENDING_SCHEMA],
    ).fetchall()
    return {
        name: con.execute(f'select count(*) from {PENDING_SCHEMA}."{name}"').fetchone()[0]
        for (name,) in tables
    }


def hold_back(con: duckdb.DuckDBPyConnection, days: int) -> dict[str, int]:
    """Move the rows loaded during the world's last `days` days into raw_pending.

    Returns the rows held back per table. The world's as-of date becomes
    D - days; `land` undoes it day by day.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    meta = _metadata(con)
    if PENDING_KEY in meta:
        raise ValueError("this world already holds rows back; land them first")
    as_of = dt.date.fromisoformat(meta["as_of"])
    new_as_of = as_of - dt.timedelta(days=days)
    cutoff = _day_end(new_as_of)
    con.execute(f"create schema if not exists {PENDING_SCHEMA}")
    held: dict[str, int] = {}
    con.execute("begin")
    try:
        for table in load_contract():
            raw, pending = f'{RAW_SCHEMA}."{table}"', f'{PENDING_SCHEMA}."{table}"'
            con.execute(
                f"create or replace table {pending} as "
                f"select * from {raw} where _loaded_at >= cast(? as timestamp)",
                [cutoff],
            )
            con.execute(f"delete from {raw} where _loaded_at >= cast(? as timestamp)", [cutoff])
            held[table] = con.execute(f"select count(*) from {pending}").fetchone()[0]
        _set_metadata(con, "as_of", new_as_of.isoformat())
        _set_metadata(con, PENDING_KEY, as_of.isoformat())
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return held


def land(con: duckdb.DuckDBPyConnection, days: int = 1) -> dict[str, int]:
    """Land the next `days` days of held-back rows into raw; returns rows landed per table.

    The world's as-of date moves forward by `days` (at most to the world's
    own as-of date); when nothing is left, raw_pending is dropped.
    """
    meta = _metadata(con)
    if PENDING_KEY not in meta:
        raise ValueError(
            "nothing is held back in this warehouse (mailroom generate --pending-days)"
        )
    until = dt.date.fromisoformat(meta[PENDING_KEY])
    new_as_of = min(dt.date.fromisoformat(meta["as_of"]) + dt.timedelta(days=days), until)
    cutoff = _day_end(new_as_of)
    landed: dict[str, int] = {}
    con.execute("begin")
    try:
        for table in pending_counts(con):
            raw, pending = f'{RAW_SCHEMA}."{table}"', f'{PENDING_SCHEMA}."{table}"'
            landed[table] = con.execute(
                f"select count(*) from {pending} where _loaded_at < cast(? as timestamp)", [cutoff]
            ).fetchone()[0]
            con.execute(
                f"insert into {raw} by name select * from {pending} "
                f"where _loaded_at < cast(? as timestamp)",
                [cutoff],
            )
            con.execute(f"delete from {pending} where _loaded_at < cast(? as timestamp)", [cutoff])
        _set_metadata(con, "as_of", new_as_of.isoformat())
        if new_as_of >= until:
            _set_metadata(con, PENDING_KEY, None)
            con.execute(f"drop schema {PENDING_SCHEMA} cascade")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return landed
