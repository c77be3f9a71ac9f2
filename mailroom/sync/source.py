"""Reading the sync marts: streamed in Arrow batches, each row made canonical and hashed.

A row's canonical form is what every destination builds its payload from:
timestamps as ISO-8601 UTC strings, the JSON-text columns parsed into arrays,
decimals as floats, NaN as null. Its payload hash is the sha256 of that form
(sorted keys), so any changed value, and any column added to the mart later,
makes the row an update.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from mailroom.standardize import normalize_email, normalize_email_sql

PROFILES = "profiles"
MEMBERSHIPS = "audience_memberships"
DELETIONS = "deletions"
STREAMS = (DELETIONS, PROFILES, MEMBERSHIPS)  # delivery order: erasures first
MART_NAMES = {
    PROFILES: "sync_esp__profiles",
    MEMBERSHIPS: "sync_esp__audience_memberships",
    DELETIONS: "sync_esp__deletions",
}

# Identity fields of a profile; every other column is a custom property.
IDENTITY_COLUMNS = ("email", "person_id", "first_name", "last_name", "phone_number", "country_code")
# JSON arrays stored as text in the mart, sent as arrays.
JSON_COLUMNS = ("segments", "recommended_products", "audiences")
# Bumped when the canonical form changes, so every row is re-sent once.
PAYLOAD_VERSION = 1


class SourceError(RuntimeError):
    """A sync mart is missing or lacks a required column."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def membership_key(audience_key: str, email: str) -> str:
    return f"{audience_key}\x1f{email}"


def iso_utc(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds") + "Z"
    return value.isoformat()


def canonical_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return iso_utc(value)
    if isinstance(value, list | tuple):
        return [canonical_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): canonical_value(v) for k, v in value.items()}
    return str(value)


def canonical_record(row: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The row in canonical form, and a problem (no personal data) if it cannot be sent."""
    record: dict[str, Any] = {}
    problem = None
    for column, value in row.items():
        if column in JSON_COLUMNS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                problem = problem or f"column {column} is not valid JSON"
                value = None
            if value is not None and not isinstance(value, list):
                problem = problem or f"column {column} is not a JSON array"
        record[column] = canonical_value(value)
    return record, problem


def payload_hash(record: dict[str, Any]) -> str:
    text = json.dumps(
        {"v": PAYLOAD_VERSION, "r": record}, sort_keys=True, separators=(",", ":"), default=str
    )
    return sha256(text)


@dataclass(frozen=True)
class SourceRow:
    key_hash: str
    subject_hash: str  # sha256 of the e-mail: links a membership or deletion to its profile
    payload_hash: str
    record: dict[str, Any]
    problem: str | None = None
    group_key: str | None = None  # audience_key of a membership


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
    ]


REQUIRED_COLUMNS = {
    PROFILES: ("email", "person_id"),
    MEMBERSHIPS: ("audience_key", "email"),
    DELETIONS: ("email",),
}


def check_mart(con: duckdb.DuckDBPyConnection, schema: str, stream: str) -> None:
    table = MART_NAMES[stream]
    if not table_exists(con, schema, table):
        raise SourceError(
            f"{schema}.{table} not found: build the sync marts first (mailroom build)"
        )
    missing = [c for c in REQUIRED_COLUMNS[stream] if c not in _columns(con, schema, table)]
    if missing:
        raise SourceError(f"{schema}.{table} lacks column(s) {missing}")


def count_rows(con: duckdb.DuckDBPyConnection, schema: str, stream: str) -> int:
    return con.execute(f'select count(*) from {schema}."{MART_NAMES[stream]}"').fetchone()[0]


def read_stream(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    stream: str,
    batch_rows: int = 5_000,
    where: str | None = None,
) -> Iterator[SourceRow]:
    """Every row of a stream's mart (those matching the SQL predicate `where`,
    when given), canonical and hashed, streamed in Arrow batches.

    Rows without an e-mail (or audience key) are skipped: they have no key. The
    e-mail is keyed by the warehouse's rule (`normalize_email`) before hashing.
    """
    table = MART_NAMES[stream]
    order = "audience_key, email" if stream == MEMBERSHIPS else "email"
    with con.cursor() as cursor:  # its own connection: `con` may commit state meanwhile
        yield from _read_rows(cursor, schema, table, order, stream, batch_rows, where)


def _read_rows(
    cursor: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    order: str,
    stream: str,
    batch_rows: int,
    where: str | None = None,
) -> Iterator[SourceRow]:
    query = f'select * from {schema}."{table}"'
    if where:
        query += f" where {where}"
    query += f" order by {order}"
    for batch in cursor.sql(query).to_arrow_reader(batch_rows):
        for row in batch.to_pylist():
            email = row.get("email")
            email = normalize_email(email) if isinstance(email, str) else None
            if email is None:
                continue
            row["email"] = email
            subject = sha256(email)
            if stream == DELETIONS:
                # Only the address matters: a new reason or date is not a new erasure.
                record, _ = canonical_record(row)
                yield SourceRow(subject, subject, payload_hash({"email": email}), record)
                continue
            record, problem = canonical_record(row)
            if stream == MEMBERSHIPS:
                audience = row.get("audience_key")
                if audience is None:
                    continue
                key = sha256(membership_key(str(audience), email))
                yield SourceRow(
                    key, subject, payload_hash(record), record, problem, group_key=str(audience)
                )
            else:
                yield SourceRow(subject, subject, payload_hash(record), record, problem)


def lookup_addresses(
    con: duckdb.DuckDBPyConnection, lookup: str, wanted: set[str], batch_rows: int = 20_000
) -> dict[str, str]:
    """Addresses whose sha256 is in `wanted`, found in the `schema.relation.column` lookup.

    State keeps no addresses, so a removal (someone who left the profiles mart)
    finds theirs here. Missing relation: nothing is found.
    """
    if not wanted:
        return {}
    schema, relation, column = lookup.split(".")
    if not table_exists(con, schema, relation):  # tables and views alike
        return {}
    found: dict[str, str] = {}
    address = normalize_email_sql(f'"{column}"')
    query = (
        f'select distinct {address} as address from {schema}."{relation}" '
        f"where {address} is not null"
    )
    with con.cursor() as cursor:
        for batch in cursor.sql(query).to_arrow_reader(batch_rows):
            for address in batch.column(0).to_pylist():
                h = sha256(address)
                if h in wanted:
                    found[h] = address
    return found
