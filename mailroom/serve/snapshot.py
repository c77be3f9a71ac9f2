"""Serving snapshots: what the profile API reads, copied out of the warehouse's marts.

The API never opens the warehouse: DuckDB allows one writing process, and a
`dbt build` holds the file for minutes while it replaces tables one by one.
`publish_snapshot` reads the marts once and writes a new, self-contained,
read-only SQLite file under the serving folder (`data/serving/` by default):

    data/serving/
        CURRENT                                   the current snapshot's file name
        snapshot-20261001T060000123456Z-1a2b3c.sqlite
        snapshot-...sqlite                        the previous ones (the newest `keep` are kept)

Tables of a snapshot (format `FORMAT_VERSION`):

- `profiles(profile_id integer primary key, person_id text unique, document blob)`:
  one JSON document per person of dim_customers, exactly the bytes
  `GET /v1/profiles/{key}` returns (validated against `models.KnownProfile`);
- `email_keys(email_key text primary key, profile_id)` without rowid: the
  e-mail of dim_customers normalized by the `normalize_email` macro's SQL; an
  address two people share is left out (counted in `ambiguous_email_keys`):
  the API would rather answer "unknown" than show one person another's profile;
- `audiences(audience_id primary key, ...)` and
  `audience_members(audience_id, person_id, ...)` primary key
  (audience_id, person_id) without rowid: the sendable members, for keyset pages;
- `meta(key, value)`: JSON values: snapshot_id, format_version, built_at,
  as_of_date, source_warehouse, row_counts, missing_marts, warnings, the
  propensity model names and `fallback_document` (the unknown-profile answer).

A snapshot is built as `.building-<id>.sqlite`, checked (row counts, SQLite
`quick_check`), made read-only, renamed to its final name and fsynced; only
then is `CURRENT` replaced (temporary file + `os.replace`), so a failed or
interrupted publish never becomes current and never leaves a half-written
file behind the pointer. One publisher at a time (an `flock` on
`.publish.lock`); leftovers of a crashed publish are removed by the next one.

Marts: dim_customers and dim_profile_fallback are required (a clear error
otherwise); any other mart that is missing gives its section empty or the
fallback's (content, send hour) to every person, and is listed in
`missing_marts`. Marts that disagree on the as-of date (a build that stopped
halfway) refuse the publish.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
from pydantic import TypeAdapter, ValidationError

from mailroom.serve.models import FallbackProfile, KnownProfile
from mailroom.standardize import normalize_email_sql
from mailroom.warehouse import memory_limit

FORMAT_VERSION = 1
DEFAULT_SERVING_DIR = Path("data/serving")
DEFAULT_KEEP = 3
CURRENT_NAME = "CURRENT"
LOCK_NAME = ".publish.lock"
SNAPSHOT_RE = re.compile(r"^snapshot-(\d{8}T\d{12}Z-[0-9a-f]{6})\.sqlite$")
MARTS_SCHEMA = "marts"
INSERT_BATCH_ROWS = 2_000

Progress = Callable[[str], None]


class SnapshotError(RuntimeError):
    """The snapshot cannot be published (or read); the message says why and what to do."""


@dataclass(frozen=True)
class MartSpec:
    """The columns the snapshot reads from a mart, with their types for an empty stand-in."""

    columns: Mapping[str, str]
    required: bool = False
    as_of_column: str | None = "as_of_date"


MARTS: dict[str, MartSpec] = {
    "dim_customers": MartSpec(
        {
            "person_id": "varchar",
            "email": "varchar",
            "lifecycle_stage": "varchar",
            "email_contactability": "varchar",
            "is_email_contactable": "boolean",
            "primary_segment_id": "varchar",
            "cluster_label": "varchar",
            "as_of_date": "date",
        },
        required=True,
    ),
    "dim_profile_fallback": MartSpec(
        {
            "rule_id": "varchar",
            "content_block": "varchar",
            "offer_code": "varchar",
            "template_id": "varchar",
            "subject_line": "varchar",
            "preheader": "varchar",
            "fallback_variables": "varchar",
            "send_hour_source": "varchar",
            "best_send_hour_utc": "integer",
            "frequency_cap_7d": "integer",
            "as_of_date": "date",
        },
        required=True,
    ),
    "fct_popular_products": MartSpec(
        {
            "popularity_rank": "integer",
            "product_id": "varchar",
            "product_name": "varchar",
            "category": "varchar",
            "brand": "varchar",
            "popularity_score": "double",
            "as_of_date": "date",
        }
    ),
    "fct_segment_memberships": MartSpec(
        {
            "person_id": "varchar",
            "segment_id": "varchar",
            "segment_priority": "integer",
            "as_of_date": "date",
        }
    ),
    "fct_propensity_scores": MartSpec(
        {
            "person_id": "varchar",
            "model_name": "varchar",
            "score": "double",
            "decile": "bigint",
            "tier": "varchar",
            "model_version": "varchar",
            "reason_1": "varchar",
            "reason_2": "varchar",
            "reason_3": "varchar",
            "reasons_text": "varchar",
        },
        as_of_column=None,  # a timestamp here; the scores' date is checked by dbt
    ),
    "fct_customer_value": MartSpec(
        {
            "person_id": "varchar",
            "probability_alive": "double",
            "expected_orders": "double",
            "expected_revenue": "double",
            "expected_order_value": "double",
            "expected_next_order_date": "date",
            "has_insufficient_history": "boolean",
            "as_of_date": "date",
        }
    ),
    "fct_recommendations": MartSpec(
        {
            "person_id": "varchar",
            "recommendation_rank": "integer",
            "product_id": "varchar",
            "product_name": "varchar",
            "category": "varchar",
            "brand": "varchar",
            "score": "double",
            "recommendation_source": "varchar",
        },
        as_of_column=None,
    ),
    "fct_content_selections": MartSpec(
        {
            "person_id": "varchar",
            "rule_id": "varchar",
            "content_block": "varchar",
            "offer_code": "varchar",
            "template_id": "varchar",
            "subject_line": "varchar",
            "preheader": "varchar",
            "first_name": "varchar",
            "last_viewed_category": "varchar",
            "last_viewed_product": "varchar",
            "last_viewed_product_id": "varchar",
            "recommended_product": "varchar",
            "fallback_variables": "varchar",
            "as_of_date": "date",
        }
    ),
    "fct_send_preferences": MartSpec(
        {
            "person_id": "varchar",
            "send_hour_source": "varchar",
            "best_send_hour_utc": "integer",
            "frequency_cap_7d": "integer",
            "emails_delivered_7d": "integer",
            "sends_remaining_7d": "integer",
            "is_frequency_capped": "boolean",
            "is_fatigued": "boolean",
            "as_of_date": "date",
        }
    ),
    "fct_audience_memberships": MartSpec(
        {
            "audience_id": "varchar",
            "person_id": "varchar",
            "audience_rank": "bigint",
            "rank_score": "double",
            "is_sendable": "boolean",
            "as_of_date": "date",
        }
    ),
    "dim_audiences": MartSpec(
        {
            "audience_id": "varchar",
            "audience_name": "varchar",
            "description": "varchar",
            "as_of_date": "date",
        }
    ),
}

SCHEMA_SQL = """
create table meta (key text primary key, value text not null) without rowid;
create table profiles (
    profile_id integer primary key,
    person_id text not null,
    document blob not null
);
create table email_keys (
    email_key text primary key,
    profile_id integer not null
) without rowid;
create table audiences (
    audience_id text primary key,
    audience_name text,
    description text,
    sendable_count integer not null
) without rowid;
create table audience_members (
    audience_id text not null,
    person_id text not null,
    email text,
    audience_rank integer,
    rank_score real,
    primary key (audience_id, person_id)
) without rowid;
"""
INDEX_SQL = "create unique index profiles_person_id on profiles (person_id)"


# --------------------------------------------------------------------------- paths


def snapshot_file_name(snapshot_id: str) -> str:
    return f"snapshot-{snapshot_id}.sqlite"


def new_snapshot_id(now: dt.datetime | None = None) -> str:
    """Sortable by time: UTC timestamp to the microsecond plus 6 random hex digits."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def read_current_name(serving_dir: Path) -> str | None:
    """The file name CURRENT points at, or None when there is no CURRENT yet."""
    try:
        name = (serving_dir / CURRENT_NAME).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    if not SNAPSHOT_RE.match(name):
        raise SnapshotError(f"{serving_dir / CURRENT_NAME} does not name a snapshot file")
    return name


def current_snapshot_path(serving_dir: Path) -> Path:
    name = read_current_name(serving_dir)
    if name is None:
        raise SnapshotError(
            f"no serving snapshot in {serving_dir} (no {CURRENT_NAME} file): run `mailroom snapshot` "
            "after `mailroom build`"
        )
    path = serving_dir / name
    if not path.exists():
        raise SnapshotError(f"{CURRENT_NAME} in {serving_dir} points at a missing file {name}")
    return path


def list_snapshots(serving_dir: Path) -> list[Path]:
    """Published snapshot files, oldest first (their names sort by time)."""
    if not serving_dir.exists():
        return []
    return sorted(p for p in serving_dir.iterdir() if SNAPSHOT_RE.match(p.name))


def snapshots_to_prune(names: Sequence[str], current: str | None, keep: int) -> list[str]:
    """The snapshot names to delete: all but the newest `keep`, never the current one."""
    ordered = sorted(n for n in names if SNAPSHOT_RE.match(n))
    kept = set(ordered[-keep:]) if keep > 0 else set()
    if current:
        kept.add(current)
    return [n for n in ordered if n not in kept]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def point_current(serving_dir: Path, file_name: str) -> None:
    """Atomically repoint CURRENT: write a temporary file, fsync it, os.replace it over CURRENT."""
    tmp = serving_dir / f".{CURRENT_NAME}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(file_name + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, serving_dir / CURRENT_NAME)
    _fsync_dir(serving_dir)


@contextlib.contextmanager
def _publish_lock(serving_dir: Path) -> Iterator[None]:
    with open(serving_dir / LOCK_NAME, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SnapshotError(
                f"another snapshot is being published into {serving_dir}; try again when it is done"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------- reading the warehouse


@contextlib.contextmanager
def _open_warehouse(warehouse: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    if not warehouse.exists():
        raise SnapshotError(f"warehouse {warehouse} not found: run `mailroom build` first")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
        con.execute(f"set memory_limit = '{memory_limit()}'")
    except duckdb.ConnectionException:
        # This process already holds the file read-write (dbt-duckdb keeps its
        # instance open after an in-process build): share that instance.
        con = duckdb.connect(str(warehouse))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise SnapshotError(
                f"warehouse {warehouse} is locked by another process (a `dbt build` in progress?): "
                "publish the snapshot when it has finished; the API keeps serving the current one"
            ) from None
        raise SnapshotError(f"cannot open warehouse {warehouse}: {exc}") from None
    try:
        yield con
    finally:
        con.close()


def available_marts(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?",
        [MARTS_SCHEMA],
    ).fetchall()
    return {r[0] for r in rows}


def mart_cte(name: str, spec: MartSpec, present: bool) -> str:
    """A CTE named after the mart: its columns cast to the types the snapshot expects, or an
    empty typed stand-in when the mart is missing."""
    if present:
        columns = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in spec.columns.items())
        return f'{name} as (select {columns} from {MARTS_SCHEMA}."{name}")'
    columns = ", ".join(f'cast(null as {t}) as "{c}"' for c, t in spec.columns.items())
    return f"{name} as (select {columns} where false)"


def marts_prelude(present: set[str]) -> str:
    return "with " + ",\n".join(mart_cte(n, s, n in present) for n, s in MARTS.items())


PROFILES_SQL = """
,
segments as (
    select person_id, list(segment_id order by segment_priority, segment_id) as segment_ids
    from fct_segment_memberships
    group by 1
),
scores as (
    select
        person_id,
        list(struct_pack(
            model_name := model_name, score := score, decile := decile, tier := tier,
            model_version := model_version, reason_1 := reason_1, reason_2 := reason_2,
            reason_3 := reason_3, reasons_text := reasons_text
        ) order by model_name) as scores
    from fct_propensity_scores
    group by 1
),
recommendations as (
    select
        person_id,
        list(struct_pack(
            rank := recommendation_rank, product_id := product_id, product_name := product_name,
            category := category, brand := brand, score := score, source := recommendation_source
        ) order by recommendation_rank) as recommendations
    from fct_recommendations
    group by 1
),
audiences as (
    select person_id, list(audience_id order by audience_id) as audience_ids
    from fct_audience_memberships
    where is_sendable
    group by 1
)
select
    dim_customers.person_id,
    dim_customers.as_of_date,
    dim_customers.lifecycle_stage,
    dim_customers.email_contactability,
    dim_customers.is_email_contactable,
    dim_customers.primary_segment_id,
    dim_customers.cluster_label,
    segments.segment_ids,
    scores.scores,
    recommendations.recommendations,
    audiences.audience_ids,
    case when fct_customer_value.person_id is not null then struct_pack(
        probability_alive := fct_customer_value.probability_alive,
        expected_orders := fct_customer_value.expected_orders,
        expected_revenue := fct_customer_value.expected_revenue,
        expected_order_value := fct_customer_value.expected_order_value,
        expected_next_order_date := fct_customer_value.expected_next_order_date,
        has_insufficient_history := fct_customer_value.has_insufficient_history
    ) end as value,
    case when fct_content_selections.person_id is not null then struct_pack(
        rule_id := fct_content_selections.rule_id,
        content_block := fct_content_selections.content_block,
        offer_code := fct_content_selections.offer_code,
        template_id := fct_content_selections.template_id,
        subject_line := fct_content_selections.subject_line,
        preheader := fct_content_selections.preheader,
        first_name := fct_content_selections.first_name,
        last_viewed_category := fct_content_selections.last_viewed_category,
        last_viewed_product := fct_content_selections.last_viewed_product,
        last_viewed_product_id := fct_content_selections.last_viewed_product_id,
        recommended_product := fct_content_selections.recommended_product,
        fallback_variables := fct_content_selections.fallback_variables
    ) end as content,
    case when fct_send_preferences.person_id is not null then struct_pack(
        best_send_hour_utc := fct_send_preferences.best_send_hour_utc,
        send_hour_source := fct_send_preferences.send_hour_source,
        frequency_cap_7d := fct_send_preferences.frequency_cap_7d,
        emails_delivered_7d := fct_send_preferences.emails_delivered_7d,
        sends_remaining_7d := fct_send_preferences.sends_remaining_7d,
        is_frequency_capped := fct_send_preferences.is_frequency_capped,
        is_fatigued := fct_send_preferences.is_fatigued
    ) end as send
from dim_customers
left join segments on dim_customers.person_id = segments.person_id
left join scores on dim_customers.person_id = scores.person_id
left join recommendations on dim_customers.person_id = recommendations.person_id
left join audiences on dim_customers.person_id = audiences.person_id
left join fct_customer_value on dim_customers.person_id = fct_customer_value.person_id
left join fct_content_selections on dim_customers.person_id = fct_content_selections.person_id
left join fct_send_preferences on dim_customers.person_id = fct_send_preferences.person_id
order by dim_customers.person_id
"""


def email_keys_sql() -> str:
    """The e-mail index: dim_customers' e-mail keyed by the normalize_email macro's own SQL."""
    return f"""
,
keyed as (
    select {normalize_email_sql("email")} as email_key, person_id
    from dim_customers
)
select email_key, min(person_id) as person_id, count(distinct person_id) as people
from keyed
where email_key is not null
group by 1
"""


AUDIENCE_MEMBERS_SQL = """
select
    fct_audience_memberships.audience_id,
    fct_audience_memberships.person_id,
    dim_customers.email,
    fct_audience_memberships.audience_rank,
    fct_audience_memberships.rank_score
from fct_audience_memberships
inner join dim_customers on fct_audience_memberships.person_id = dim_customers.person_id
where fct_audience_memberships.is_sendable
order by 1, 2
"""

# Audiences from dim_audiences (so an empty audience is known); any audience with
# members that dim_audiences lacks (it is missing) is added.
AUDIENCES_SQL = """
,
defined as (
    select audience_id, audience_name, description from dim_audiences
    union all
    select distinct audience_id, null, null from fct_audience_memberships
    where audience_id not in (select audience_id from dim_audiences)
)
select audience_id, max(audience_name), max(description)
from defined
group by 1
order by 1
"""


# --------------------------------------------------------------------------- documents


def _finite(value: Any) -> Any:
    """Non-finite floats (NaN, inf) become None; JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _split_variables(text: str | None) -> list[str]:
    return [v for v in (text or "").split("|") if v]


def content_section(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rule_id": row.get("rule_id"),
        "content_block": row.get("content_block"),
        "offer_code": row.get("offer_code") or None,
        "template_id": row.get("template_id"),
        "subject_line": row.get("subject_line"),
        "preheader": row.get("preheader"),
        "variables": {
            "first_name": row.get("first_name"),
            "last_viewed_category": row.get("last_viewed_category"),
            "last_viewed_product": row.get("last_viewed_product"),
            "last_viewed_product_id": row.get("last_viewed_product_id"),
            "recommended_product": row.get("recommended_product"),
        },
        "fallback_variables": _split_variables(row.get("fallback_variables")),
    }


def score_section(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "score": _finite(row["score"]),
        "decile": row["decile"],
        "tier": row["tier"],
        "model_version": row["model_version"],
        "reasons": [r for r in (row["reason_1"], row["reason_2"], row["reason_3"]) if r],
        "reasons_text": row.get("reasons_text"),
    }


def recommendation_section(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "rank": row["rank"],
        "product_id": row["product_id"],
        "product_name": row["product_name"],
        "category": row["category"],
        "brand": row["brand"],
        "score": _finite(row["score"]),
        "source": row["source"],
    }


def value_section(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: _finite(v) for k, v in row.items()}


def fallback_document(
    fallback: Mapping[str, Any],
    popular: Sequence[Mapping[str, Any]],
    model_names: Sequence[str],
) -> dict[str, Any]:
    """The unknown-profile answer from dim_profile_fallback and fct_popular_products rows."""
    return {
        "found": False,
        "person_id": None,
        "as_of_date": fallback.get("as_of_date"),
        "lifecycle_stage": None,
        "email_contactability": None,
        "is_email_contactable": False,
        "primary_segment_id": None,
        "segment_ids": [],
        "cluster_label": None,
        "scores": {name: None for name in model_names},
        "value": None,
        "recommendations": [
            {
                "rank": p["popularity_rank"],
                "product_id": p["product_id"],
                "product_name": p["product_name"],
                "category": p["category"],
                "brand": p["brand"],
                "score": _finite(p["popularity_score"]),
                "source": "popularity",
            }
            for p in popular
        ],
        "content": content_section(fallback),
        "send": {
            "best_send_hour_utc": fallback["best_send_hour_utc"],
            "send_hour_source": fallback["send_hour_source"],
            "frequency_cap_7d": fallback.get("frequency_cap_7d"),
            "emails_delivered_7d": None,
            "sends_remaining_7d": None,
            "is_frequency_capped": False,
            "is_fatigued": False,
        },
        "audience_ids": [],
    }


def profile_document(
    row: Mapping[str, Any], fallback: Mapping[str, Any], model_names: Sequence[str]
) -> dict[str, Any]:
    """One person's document from a PROFILES_SQL row; content and send hour default to the fallback's."""
    scores: dict[str, Any] = {name: None for name in model_names}
    for score in row.get("scores") or []:
        scores[score["model_name"]] = score_section(score)
    content = row.get("content")
    return {
        "found": True,
        "person_id": row["person_id"],
        "as_of_date": row.get("as_of_date"),
        "lifecycle_stage": row.get("lifecycle_stage"),
        "email_contactability": row.get("email_contactability"),
        "is_email_contactable": bool(row.get("is_email_contactable")),
        "primary_segment_id": row.get("primary_segment_id"),
        "segment_ids": list(row.get("segment_ids") or []),
        "cluster_label": row.get("cluster_label"),
        "scores": scores,
        "value": value_section(row.get("value")),
        "recommendations": [recommendation_section(r) for r in row.get("recommendations") or []],
        "content": content_section(content) if content is not None else fallback["content"],
        "send": dict(row["send"]) if row.get("send") is not None else fallback["send"],
        "audience_ids": list(row.get("audience_ids") or []),
    }


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dump_document(document: Mapping[str, Any]) -> bytes:
    return json.dumps(
        document, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default
    ).encode("utf-8")


# --------------------------------------------------------------------------- publishing


@dataclass
class _BuildStats:
    row_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _check_as_of(con: duckdb.DuckDBPyConnection, present: set[str]) -> dt.date | None:
    """The one as-of date every mart carries; SnapshotError when they disagree (a partial build)."""
    dates: dict[str, list[dt.date]] = {}
    for name, spec in MARTS.items():
        if name in present and spec.as_of_column:
            rows = con.execute(
                f'select distinct cast("{spec.as_of_column}" as date) from {MARTS_SCHEMA}."{name}" '
                f'where "{spec.as_of_column}" is not null'
            ).fetchall()
            if rows:
                dates[name] = sorted(r[0] for r in rows)
    distinct = {d for values in dates.values() for d in values}
    if len(distinct) > 1:
        detail = ", ".join(f"{n} {', '.join(str(d) for d in v)}" for n, v in sorted(dates.items()))
        raise SnapshotError(
            f"the marts disagree on the as-of date ({detail}): a build did not finish; "
            "run `mailroom build` and publish again"
        )
    return next(iter(distinct), None)


def _arrow_rows(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[dict[str, Any]]:
    reader = con.sql(sql).to_arrow_reader(INSERT_BATCH_ROWS)
    for batch in reader:
        yield from batch.to_pylist()


def _write_snapshot(
    con: duckdb.DuckDBPyConnection,
    db: sqlite3.Connection,
    present: set[str],
    stats: _BuildStats,
    progress: Progress,
) -> tuple[dict[str, Any], list[str]]:
    prelude = marts_prelude(present)
    model_names = [
        r[0]
        for r in con.execute(
            prelude + " select distinct model_name from fct_propensity_scores order by 1"
        ).fetchall()
    ]
    fallback_rows = list(_arrow_rows(con, prelude + " select * from dim_profile_fallback"))
    if len(fallback_rows) != 1:
        raise SnapshotError(
            f"marts.dim_profile_fallback has {len(fallback_rows)} rows, expected 1: run `mailroom build`"
        )
    popular = list(
        _arrow_rows(con, prelude + " select * from fct_popular_products order by popularity_rank")
    )
    fallback = fallback_document(fallback_rows[0], popular, model_names)
    try:
        FallbackProfile.model_validate(fallback)
    except ValidationError as exc:
        raise SnapshotError(f"the fallback document does not match the API schema: {exc}") from None

    progress("profiles")
    validate = TypeAdapter(KnownProfile).validate_python
    profile_ids: dict[str, int] = {}
    batch: list[tuple[int, str, bytes]] = []
    for profile_id, row in enumerate(_arrow_rows(con, prelude + PROFILES_SQL), start=1):
        document = profile_document(row, fallback, model_names)
        try:
            validate(document)
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise SnapshotError(
                f"profile document {profile_id} does not match the API schema "
                f"(fields: {', '.join(fields)}): check the marts' values"
            ) from None
        profile_ids[row["person_id"]] = profile_id
        batch.append((profile_id, row["person_id"], dump_document(document)))
        if len(batch) >= INSERT_BATCH_ROWS:
            db.executemany("insert into profiles values (?, ?, ?)", batch)
            batch.clear()
    db.executemany("insert into profiles values (?, ?, ?)", batch)
    stats.row_counts["profiles"] = len(profile_ids)

    progress("e-mail keys")
    keys, ambiguous = [], 0
    for email_key, person_id, people in con.execute(prelude + email_keys_sql()).fetchall():
        if people == 1:
            keys.append((email_key, profile_ids[person_id]))
        else:
            ambiguous += 1
    db.executemany("insert into email_keys values (?, ?)", keys)
    stats.row_counts["email_keys"] = len(keys)
    stats.row_counts["ambiguous_email_keys"] = ambiguous
    if ambiguous:
        stats.warnings.append(
            f"{ambiguous} e-mail addresses belong to more than one person: not served by e-mail"
        )

    progress("audiences")
    members = con.execute(prelude + AUDIENCE_MEMBERS_SQL).fetchall()
    db.executemany("insert into audience_members values (?, ?, ?, ?, ?)", members)
    sendable: dict[str, int] = {}
    for member in members:
        sendable[member[0]] = sendable.get(member[0], 0) + 1
    audiences = con.execute(prelude + AUDIENCES_SQL).fetchall()
    db.executemany(
        "insert into audiences values (?, ?, ?, ?)",
        [(a, name, desc, sendable.get(a, 0)) for a, name, desc in audiences],
    )
    stats.row_counts["audiences"] = len(audiences)
    stats.row_counts["audience_members"] = len(members)
    return fallback, model_names


def _source_counts(con: duckdb.DuckDBPyConnection, present: set[str]) -> dict[str, int]:
    return {
        f"marts.{name}": con.execute(f'select count(*) from {MARTS_SCHEMA}."{name}"').fetchone()[0]
        for name in MARTS
        if name in present
    }


def _verify(db: sqlite3.Connection, row_counts: Mapping[str, int]) -> None:
    for table in ("profiles", "email_keys", "audiences", "audience_members"):
        n = db.execute(f"select count(*) from {table}").fetchone()[0]
        if n != row_counts[table]:
            raise SnapshotError(
                f"snapshot table {table} has {n} rows, expected {row_counts[table]}"
            )
    check = db.execute("pragma quick_check").fetchone()[0]
    if check != "ok":
        raise SnapshotError(f"snapshot failed SQLite's quick_check: {check}")


def build_snapshot_file(
    warehouse: Path, path: Path, snapshot_id: str, progress: Progress | None = None
) -> dict[str, Any]:
    """Write a complete snapshot of the warehouse's marts into `path` (a new file); returns its metadata."""
    progress = progress or (lambda _step: None)
    started = time.perf_counter()
    stats = _BuildStats()
    with _open_warehouse(warehouse) as con:
        present = available_marts(con)
        missing_required = sorted(n for n, s in MARTS.items() if s.required and n not in present)
        if missing_required:
            raise SnapshotError(
                f"{', '.join('marts.' + n for n in missing_required)} not found in {warehouse}: "
                "run `mailroom build` (a full build creates every mart the API serves)"
            )
        missing = sorted(n for n in MARTS if n not in present)
        for name in missing:
            stats.warnings.append(
                f"marts.{name} is missing: its section is empty or the fallback's"
            )
        as_of = _check_as_of(con, present)
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.executescript(
                "pragma page_size = 16384; pragma journal_mode = off; pragma synchronous = off;"
                + SCHEMA_SQL
            )
            db.execute("begin")
            try:
                fallback, model_names = _write_snapshot(con, db, present, stats, progress)
            except duckdb.BinderException as exc:
                raise SnapshotError(
                    f"a mart lacks a column the snapshot reads ({str(exc).splitlines()[0]}): "
                    "run `mailroom build` with this version of the project"
                ) from None
            except duckdb.ConversionException as exc:
                raise SnapshotError(
                    f"a mart column does not have the type the snapshot reads "
                    f"({str(exc).splitlines()[0]})"
                ) from None
            stats.row_counts.update(_source_counts(con, present))
            if stats.row_counts["profiles"] == 0:
                stats.warnings.append("marts.dim_customers is empty: every key gets the fallback")
            elif stats.row_counts["email_keys"] == 0:
                stats.warnings.append(
                    "no person has an e-mail address: profiles can be looked up by person_id only"
                )
            meta = {
                "snapshot_id": snapshot_id,
                "format_version": FORMAT_VERSION,
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "as_of_date": as_of.isoformat() if as_of else None,
                "source_warehouse": str(warehouse.resolve()),
                "row_counts": stats.row_counts,
                "missing_marts": missing,
                "warnings": stats.warnings,
                "model_names": model_names,
                "build_seconds": round(time.perf_counter() - started, 2),
            }
            db.executemany(
                "insert into meta values (?, ?)",
                [(k, json.dumps(v, default=_json_default)) for k, v in meta.items()]
                + [("fallback_document", dump_document(fallback).decode("utf-8"))],
            )
            progress("indexes")
            db.execute(INDEX_SQL)
            db.execute("commit")
            db.execute("analyze")
            _verify(db, stats.row_counts)
        finally:
            db.close()
    return meta


def prune_snapshots(serving_dir: Path, keep: int = DEFAULT_KEEP) -> list[Path]:
    """Delete all but the newest `keep` snapshots (never the current one); returns what was deleted."""
    names = [p.name for p in list_snapshots(serving_dir)]
    doomed = snapshots_to_prune(names, read_current_name(serving_dir), keep)
    for name in doomed:
        # a server still reading it keeps its open handle: unlinking does not disturb it
        (serving_dir / name).unlink(missing_ok=True)
    return [serving_dir / n for n in doomed]


def publish_snapshot(
    warehouse: Path,
    serving_dir: Path = DEFAULT_SERVING_DIR,
    keep: int = DEFAULT_KEEP,
    progress: Progress | None = None,
) -> Path:
    """Build a new snapshot of the warehouse's marts, make it current, prune old ones; its path.

    Nothing changes in `serving_dir` unless the new snapshot is complete and
    verified: on any error the partial file is deleted and CURRENT still names
    the previous snapshot.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    serving_dir.mkdir(parents=True, exist_ok=True)
    with _publish_lock(serving_dir):
        for stale in serving_dir.glob(".building-*.sqlite"):
            stale.unlink(missing_ok=True)  # a crashed publish; we hold the lock, nobody else builds
        snapshot_id = new_snapshot_id()
        building = serving_dir / f".building-{snapshot_id}.sqlite"
        final = serving_dir / snapshot_file_name(snapshot_id)
        try:
            build_snapshot_file(Path(warehouse), building, snapshot_id, progress)
            _fsync_file(building)
            os.chmod(building, 0o444)
            os.replace(building, final)
            _fsync_dir(serving_dir)
        except BaseException:
            building.unlink(missing_ok=True)
            raise
        point_current(serving_dir, final.name)
        prune_snapshots(serving_dir, keep)
    return final


def read_snapshot_meta(path: Path) -> dict[str, Any]:
    """A snapshot file's metadata (without the fallback document)."""
    db = open_snapshot_db(path)
    try:
        return {
            k: json.loads(v)
            for k, v in db.execute("select key, value from meta")
            if k != "fallback_document"
        }
    finally:
        db.close()


def open_snapshot_db(path: Path) -> sqlite3.Connection:
    """A read-only connection; `immutable=1`: the file never changes, so SQLite takes no locks."""
    uri = f"file:{path.resolve()}?mode=ro&immutable=1"
    try:
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        version = json.loads(
            db.execute("select value from meta where key = 'format_version'").fetchone()[0]
        )
    except (sqlite3.Error, TypeError) as exc:
        raise SnapshotError(f"{path} is not a readable serving snapshot ({exc})") from None
    if version != FORMAT_VERSION:
        db.close()
        raise SnapshotError(
            f"{path} has snapshot format {version}, this version serves {FORMAT_VERSION}: "
            "run `mailroom snapshot` again"
        )
    return db
