"""The sync's bookkeeping in schema `sync_state` of the warehouse: records, runs, audit.

No address, name or response body is ever written here: keys are sha256
hashes, errors are sanitized (see `mailroom.sync.http.sanitize`).

- `records`: one row per (destination, stream, key_hash): the last payload
  hash attempted (`payload_hash`) and acknowledged (`acked_hash`), `status`
  (acknowledged, failed, invalid, removed, deleted), `attempts` (runs that
  tried to deliver the current change), `esp_id` (Mailchimp's member id, the
  MD5 of the address, needed to archive or untag someone no longer in the
  marts), `group_key` (a membership's audience key), the last operation,
  error, run and time.
- `runs`: one row per run with its counts (`counts_json` per stream).
- `audit`: one row per operation on a key: run, destination, stream,
  key_hash, operation (create, update, remove, delete), status, HTTP status,
  sanitized error, time.

An acknowledged erasure forgets the person, in the same transaction: their
profile and membership records and every audit row about any of their keys
(all streams, all runs) are deleted. What is left is the deletions-stream
record (key hash, status `deleted`, no `esp_id`), which keeps the erasure
from being sent twice, and the audit row of the acknowledged erasure itself.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from mailroom.sync.source import DELETIONS

SCHEMA = "sync_state"
ACKNOWLEDGED, FAILED, INVALID, REMOVED, DELETED = (
    "acknowledged",
    "failed",
    "invalid",
    "removed",
    "deleted",
)

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.records (
    destination varchar not null,
    stream varchar not null,
    key_hash varchar not null,
    subject_hash varchar not null,
    payload_hash varchar,
    acked_hash varchar,
    status varchar not null,
    attempts integer not null,
    esp_id varchar,
    group_key varchar,
    last_operation varchar,
    last_error varchar,
    last_run_id varchar,
    updated_at timestamp,
    primary key (destination, stream, key_hash)
);
create table if not exists {SCHEMA}.runs (
    run_id varchar primary key,
    destination varchar,
    mode varchar,
    status varchar,
    started_at timestamp,
    finished_at timestamp,
    max_delete_share double,
    source_rows bigint,
    created bigint,
    updated bigint,
    unchanged bigint,
    invalid bigint,
    failed bigint,
    skipped bigint,
    removed bigint,
    deleted bigint,
    http_requests bigint,
    message varchar,
    counts_json varchar
);
create table if not exists {SCHEMA}.audit (
    run_id varchar,
    destination varchar,
    stream varchar,
    key_hash varchar,
    operation varchar,
    status varchar,
    http_status integer,
    error varchar,
    "at" timestamp
);
"""

RECORD_SCHEMA = pa.schema(
    [
        ("destination", pa.string()),
        ("stream", pa.string()),
        ("key_hash", pa.string()),
        ("subject_hash", pa.string()),
        ("payload_hash", pa.string()),
        ("acked_hash", pa.string()),
        ("status", pa.string()),
        ("attempts", pa.int32()),
        ("esp_id", pa.string()),
        ("group_key", pa.string()),
        ("last_operation", pa.string()),
        ("last_error", pa.string()),
        ("last_run_id", pa.string()),
        ("updated_at", pa.timestamp("us")),
    ]
)
AUDIT_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("destination", pa.string()),
        ("stream", pa.string()),
        ("key_hash", pa.string()),
        ("operation", pa.string()),
        ("status", pa.string()),
        ("http_status", pa.int32()),
        ("error", pa.string()),
        ("at", pa.timestamp("us")),
    ]
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class RecordState:
    subject_hash: str
    payload_hash: str | None
    acked_hash: str | None
    status: str
    attempts: int
    esp_id: str | None
    group_key: str | None

    @property
    def present(self) -> bool:
        """Acknowledged by the destination at some point and not removed or erased since."""
        return self.acked_hash is not None and self.status not in (REMOVED, DELETED)


@dataclass
class Outcome:
    """What became of one operation on one key."""

    key_hash: str
    subject_hash: str
    operation: str  # create, update, remove, delete
    status: str  # acknowledged, failed, invalid
    payload_hash: str | None
    http_status: int | None = None
    error: str | None = None
    esp_id: str | None = None
    group_key: str | None = None


class StateStore:
    def __init__(self, con: duckdb.DuckDBPyConnection, destination: str, run_id: str) -> None:
        self.con = con
        self.destination = destination
        self.run_id = run_id
        con.execute(DDL)

    def load(self, stream: str, subjects: Iterable[str] | None = None) -> dict[str, RecordState]:
        """The stream's records; only those of `subjects` (e-mail hashes) when given."""
        query = (
            f"select key_hash, subject_hash, payload_hash, acked_hash, status, attempts, esp_id, "
            f"group_key from {SCHEMA}.records where destination = ? and stream = ?"
        )
        params: list = [self.destination, stream]
        if subjects is not None:
            query += " and subject_hash in (select unnest(?))"
            params.append(sorted(subjects))
        rows = self.con.execute(query, params).fetchall()
        return {r[0]: RecordState(*r[1:]) for r in rows}

    def count_present(self, stream: str) -> int:
        """Keys the destination holds for the stream (acknowledged, not removed or erased)."""
        return self.con.execute(
            f"select count(*) from {SCHEMA}.records where destination = ? and stream = ? "
            f"and acked_hash is not null and status not in ('{REMOVED}', '{DELETED}')",
            [self.destination, stream],
        ).fetchone()[0]

    def commit(
        self, stream: str, outcomes: list[Outcome], previous: dict[str, RecordState]
    ) -> None:
        """Write one batch's outcomes to `records` and `audit` in one transaction.

        `previous` (this stream's loaded state) is updated in place, so later
        batches and streams of the run see what was just committed.
        """
        if not outcomes:
            return
        now = utcnow()
        records, audit = [], []
        for o in outcomes:
            prev = previous.get(o.key_hash)
            acked = prev.acked_hash if prev else None
            status = o.status
            if o.status == ACKNOWLEDGED:
                if o.operation == "remove":
                    status = REMOVED
                elif o.operation == "delete":
                    status = DELETED
                else:
                    acked = o.payload_hash
            # Another try at the same change (a removal carries no payload hash).
            retrying = (
                prev is not None
                and prev.status == FAILED
                and o.payload_hash in (None, prev.payload_hash)
            )
            attempts = (prev.attempts if retrying else 0) + 1
            esp_id = o.esp_id or (prev.esp_id if prev else None)
            group_key = o.group_key or (prev.group_key if prev else None)
            payload = (
                o.payload_hash
                if o.payload_hash is not None
                else (prev.payload_hash if prev else None)
            )
            records.append(
                {
                    "destination": self.destination,
                    "stream": stream,
                    "key_hash": o.key_hash,
                    "subject_hash": o.subject_hash,
                    "payload_hash": payload,
                    "acked_hash": acked,
                    "status": status,
                    "attempts": attempts,
                    "esp_id": esp_id,
                    "group_key": group_key,
                    "last_operation": o.operation,
                    "last_error": o.error,
                    "last_run_id": self.run_id,
                    "updated_at": now,
                }
            )
            audit.append(
                {
                    "run_id": self.run_id,
                    "destination": self.destination,
                    "stream": stream,
                    "key_hash": o.key_hash,
                    "operation": o.operation,
                    "status": o.status,
                    "http_status": o.http_status,
                    "error": o.error,
                    "at": now,
                }
            )
            previous[o.key_hash] = RecordState(
                o.subject_hash, payload, acked, status, attempts, esp_id, group_key
            )
        record_table = pa.Table.from_pylist(records, schema=RECORD_SCHEMA)
        audit_table = pa.Table.from_pylist(audit, schema=AUDIT_SCHEMA)
        self.con.execute("begin transaction")
        try:
            self.con.register("_sync_records_batch", record_table)
            self.con.register("_sync_audit_batch", audit_table)
            self.con.execute(
                f"insert or replace into {SCHEMA}.records by name select * from _sync_records_batch"
            )
            self.con.execute(f"insert into {SCHEMA}.audit by name select * from _sync_audit_batch")
            erased = [
                o.subject_hash
                for o in outcomes
                if o.operation == "delete" and o.status == ACKNOWLEDGED
            ]
            if erased:
                self._forget(erased)
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        finally:
            self.con.unregister("_sync_records_batch")
            self.con.unregister("_sync_audit_batch")

    def restore_acknowledged(self, stream: str, key_hashes: Iterable[str]) -> None:
        """Keys whose failed change was undone in the mart: the destination holds the mart's payload."""
        keys = list(key_hashes)
        if not keys:
            return
        self.con.execute(
            f"update {SCHEMA}.records set status = '{ACKNOWLEDGED}', last_error = null, "
            "last_run_id = ?, updated_at = ? "
            "where destination = ? and stream = ? and key_hash in (select unnest(?))",
            [self.run_id, utcnow(), self.destination, stream, keys],
        )

    def _forget(self, subjects: list[str], only_status: str | None = None) -> None:
        """Delete what state holds about erased people (see the module docstring).

        `only_status` limits the profile and membership records deleted to that status.
        """
        other = f"r.stream <> '{DELETIONS}'"
        if only_status is not None:
            other += f" and r.status = '{only_status}'"
        subject = "r.destination = ? and r.subject_hash in (select unnest(?))"
        self.con.execute(
            f"delete from {SCHEMA}.audit a using {SCHEMA}.records r "
            "where a.destination = r.destination and a.stream = r.stream "
            f"and a.key_hash = r.key_hash and {subject} and (({other}) or "
            f"(r.stream = '{DELETIONS}' and not "
            f"(a.operation = 'delete' and a.status = '{ACKNOWLEDGED}')))",
            [self.destination, subjects],
        )
        self.con.execute(
            f"delete from {SCHEMA}.records r where {subject} and {other}",
            [self.destination, subjects],
        )
        self.con.execute(
            f"update {SCHEMA}.records r set esp_id = null, group_key = null, last_error = null "
            f"where {subject} and r.stream = '{DELETIONS}'",
            [self.destination, subjects],
        )

    def forget_erased_before(self) -> None:
        """Forget what state written before this rule still holds about erased people
        (profile and membership records marked `deleted`, their audit rows, `esp_id`)."""
        rows = self.con.execute(
            f"select d.subject_hash from {SCHEMA}.records d "
            f"where d.destination = ? and d.stream = '{DELETIONS}' and d.status = '{DELETED}' "
            "and (d.esp_id is not null or d.group_key is not null or d.last_error is not null "
            f"or exists (select 1 from {SCHEMA}.records r where r.destination = d.destination "
            f"and r.subject_hash = d.subject_hash and r.stream <> '{DELETIONS}' "
            f"and r.status = '{DELETED}') "
            f"or exists (select 1 from {SCHEMA}.audit a where a.destination = d.destination "
            f"and a.stream = '{DELETIONS}' and a.key_hash = d.key_hash "
            f"and not (a.operation = 'delete' and a.status = '{ACKNOWLEDGED}')))",
            [self.destination],
        ).fetchall()
        if rows:
            # Only `deleted` rows: a person erased, then back in the marts, keeps their new rows.
            self._forget([r[0] for r in rows], only_status=DELETED)

    def start_run(self, mode: str, max_delete_share: float) -> None:
        # DuckDB lets one process at a time write the file: a run still 'running' was killed.
        self.con.execute(
            f"update {SCHEMA}.runs set status = 'abandoned' "
            "where destination = ? and status = 'running'",
            [self.destination],
        )
        self.con.execute(
            f"insert into {SCHEMA}.runs (run_id, destination, mode, status, started_at, "
            "max_delete_share) values (?, ?, ?, 'running', ?, ?)",
            [self.run_id, self.destination, mode, utcnow(), max_delete_share],
        )

    def finish_run(
        self, status: str, totals: dict[str, int], counts: dict, message: str | None
    ) -> None:
        self.con.execute(
            f"update {SCHEMA}.runs set status = ?, finished_at = ?, source_rows = ?, created = ?, "
            "updated = ?, unchanged = ?, invalid = ?, failed = ?, skipped = ?, removed = ?, "
            "deleted = ?, http_requests = ?, message = ?, counts_json = ? where run_id = ?",
            [
                status,
                utcnow(),
                totals.get("source_rows", 0),
                totals.get("created", 0),
                totals.get("updated", 0),
                totals.get("unchanged", 0),
                totals.get("invalid", 0),
                totals.get("failed", 0),
                totals.get("skipped", 0),
                totals.get("removed", 0),
                totals.get("deleted", 0),
                totals.get("http_requests", 0),
                message,
                json.dumps(counts, sort_keys=True),
                self.run_id,
            ],
        )
