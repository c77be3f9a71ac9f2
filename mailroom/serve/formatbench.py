"""Why the serving snapshot is SQLite: point lookups timed on candidate formats.

    python -m mailroom.serve.formatbench [SERVING_DIR] [--lookups N]

Copies the current snapshot's tables into the candidates and times the same
random keys (half e-mails, half person_ids, a tenth unknown) on each, one
lookup at a time as a request does:

- `sqlite immutable, page P`: the snapshot as published (pages of P bytes);
- `duckdb file`: the same tables in a read-only DuckDB file (primary keys
  give ART indexes), prepared statements;
- `duckdb marts per request`: no precomputed documents, each lookup
  assembling the profile from the marts with the joins of PROFILES_SQL
  (what serving straight from a copy of the warehouse would cost).

Prints lookups per second and p50/p99 latency per candidate, and file sizes.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from mailroom.serve.snapshot import (
    DEFAULT_SERVING_DIR,
    PROFILES_SQL,
    current_snapshot_path,
    marts_prelude,
    open_snapshot_db,
)
from mailroom.standardize import normalize_email_sql


def _time_lookups(lookup: Callable[[str, str], object], keys: Sequence[tuple[str, str]]) -> dict:
    latencies = []
    started = time.perf_counter()
    for kind, value in keys:
        t = time.perf_counter()
        lookup(kind, value)
        latencies.append((time.perf_counter() - t) * 1e6)
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "lookups_per_second": round(len(keys) / seconds, 1),
        "p50_us": round(statistics.median(latencies), 1),
        "p99_us": round(latencies[int(len(latencies) * 0.99)], 1),
    }


def sample_keys(db: sqlite3.Connection, n: int, seed: int = 1) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    emails = [r[0] for r in db.execute("select email_key from email_keys")]
    people = [r[0] for r in db.execute("select person_id from profiles")]
    keys = []
    for i in range(n):
        if i % 10 == 0:
            keys.append(("email", f"nobody-{rng.randrange(10**9)}@example.invalid"))
        elif i % 2 and emails:
            keys.append(("email", rng.choice(emails)))
        else:
            keys.append(("person_id", rng.choice(people)))
    return keys


def _sqlite_copy(source: Path, target: Path, page_size: int) -> None:
    db = sqlite3.connect(target, isolation_level=None)
    db.execute(f"pragma page_size = {page_size}")
    db.execute("attach database ? as src", (f"file:{source}?mode=ro&immutable=1",))
    db.execute(
        "create table profiles (profile_id integer primary key, person_id text not null, "
        "document blob not null)"
    )
    db.execute(
        "create table email_keys (email_key text primary key, profile_id integer) without rowid"
    )
    db.execute("insert into profiles select * from src.profiles")
    db.execute("insert into email_keys select * from src.email_keys")
    db.execute("create unique index profiles_person_id on profiles (person_id)")
    db.execute("detach database src")
    db.execute("vacuum")
    db.close()


def _sqlite_lookup(path: Path) -> Callable[[str, str], object]:
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)

    def lookup(kind: str, value: str) -> object:
        if kind == "email":
            sql = (
                "select profiles.document from email_keys inner join profiles "
                "on profiles.profile_id = email_keys.profile_id where email_keys.email_key = ?"
            )
        else:
            sql = "select document from profiles where person_id = ?"
        return db.execute(sql, (value,)).fetchone()

    return lookup


def _duckdb_copy(source: Path, target: Path) -> None:
    import pyarrow as pa

    src = open_snapshot_db(source)
    profiles = src.execute("select profile_id, person_id, document from profiles").fetchall()
    email_keys = src.execute("select email_key, profile_id from email_keys").fetchall()
    src.close()
    profile_table = pa.table(
        {
            "profile_id": [r[0] for r in profiles],
            "person_id": [r[1] for r in profiles],
            "document": pa.array([r[2] for r in profiles], pa.binary()),
        }
    )
    key_table = pa.table(
        {"email_key": [r[0] for r in email_keys], "profile_id": [r[1] for r in email_keys]}
    )
    con = duckdb.connect(str(target))
    con.execute(
        "create table profiles (profile_id integer primary key, person_id varchar unique, "
        "document blob)"
    )
    con.execute("create table email_keys (email_key varchar primary key, profile_id integer)")
    con.register("profile_rows", profile_table)
    con.register("key_rows", key_table)
    con.execute("insert into profiles select * from profile_rows")
    con.execute("insert into email_keys select * from key_rows")
    con.close()


def _duckdb_lookup(path: Path) -> Callable[[str, str], object]:
    con = duckdb.connect(str(path), read_only=True)

    def lookup(kind: str, value: str) -> object:
        if kind == "email":
            sql = (
                "select profiles.document from email_keys inner join profiles "
                "on profiles.profile_id = email_keys.profile_id where email_keys.email_key = ?"
            )
        else:
            sql = "select document from profiles where person_id = ?"
        return con.execute(sql, [value]).fetchone()

    return lookup


def _marts_lookup(warehouse: Path) -> Callable[[str, str], object]:
    con = duckdb.connect(str(warehouse), read_only=True)
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    sql = marts_prelude(tables) + PROFILES_SQL.replace(
        "order by dim_customers.person_id",
        f"where dim_customers.person_id = $1 or {normalize_email_sql('dim_customers.email')} = $1",
    )

    def lookup(kind: str, value: str) -> object:
        return con.execute(sql, [value]).fetchall()

    return lookup


def compare(serving_dir: Path, lookups: int = 20_000, marts_lookups: int = 20) -> list[dict]:
    source = current_snapshot_path(serving_dir)
    db = open_snapshot_db(source)
    keys = sample_keys(db, lookups)
    warehouse = Path(
        db.execute(
            "select json_extract(value, '$') from meta where key = 'source_warehouse'"
        ).fetchone()[0]
    )
    db.close()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for page_size in (4096, 16384):
            path = Path(tmp) / f"p{page_size}.sqlite"
            _sqlite_copy(source, path, page_size)
            results.append(
                {"format": f"sqlite immutable, page {page_size}", "bytes": path.stat().st_size}
                | _time_lookups(_sqlite_lookup(path), keys)
            )
        path = Path(tmp) / "copy.duckdb"
        _duckdb_copy(source, path)
        results.append(
            {"format": "duckdb file", "bytes": path.stat().st_size}
            | _time_lookups(_duckdb_lookup(path), keys)
        )
        if warehouse.exists():
            results.append(
                {"format": "duckdb marts per request", "bytes": warehouse.stat().st_size}
                | _time_lookups(_marts_lookup(warehouse), keys[:marts_lookups])
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("serving_dir", nargs="?", type=Path, default=DEFAULT_SERVING_DIR)
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    print(f"{'format':<34}{'MB':>8}{'lookups/s':>11}{'p50 us':>12}{'p99 us':>12}")
    for r in compare(args.serving_dir, args.lookups):
        print(
            f"{r['format']:<34}{r['bytes'] / 1e6:>8.1f}{r['lookups_per_second']:>11,}"
            f"{r['p50_us']:>12,.1f}{r['p99_us']:>12,.1f}"
        )


if __name__ == "__main__":
    main()
