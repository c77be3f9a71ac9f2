"""The trigger lane: rows landed since the last batch reach the ESP within a minute.

One batch (`run_batch`, `mailroom trigger`):

1. Under a file lock beside the warehouse (two batches never run at once; a
   second one is refused with `TriggerBusy`), a row with status `running`
   goes to `trigger_state.batches`: the load window (loaded_after,
   loaded_until], the batch's now and the previous batch's now. loaded_until
   is the newest `_loaded_at` of the raw tables that is not in the future;
   loaded_after is the newest load already merged (the last batch's, or the
   trigger state a routine build made), minus var `trigger_lookback_minutes`.
2. `dbt build --selector trigger` with MAILROOM_TRIGGER_BATCH=true: the incremental
   base models of the event streams take the new rows; the trigger models map
   them through the last identity map, merge them into the person states,
   and rebuild the trigger audiences and the sync marts' rows of the persons
   touched (docs/trigger.md). The batch's parameters travel in the table, and
   the mode in an environment variable, not as dbt vars: a var that changes
   makes dbt parse the whole project again, an environment variable only the
   files that read it.
3. The touched persons (with the sha256 of their e-mails) join
   `trigger_state.pending_persons`, and the sync runs scoped to every pending
   person (`mailroom.sync.engine.SyncScope`): the diff against acknowledged
   state, erasures, suppression and the mass-delete guard as in any sync.
   Persons leave the pending list only when their sync succeeded, so a
   failed sync is retried by the next batch.
4. The batch row gets its outcome: succeeded, partial (the sync left failures
   to retry), or failed (with the message). A failed or killed batch moves
   no watermark: the next batch reads its rows again, and reading a row twice
   changes nothing.

`run_every` repeats batches at a fixed interval (`mailroom trigger --every
5m`): a failed batch is reported and the loop goes on; a batch still running
when the next one is due makes that one wait for it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mailroom import runner
from mailroom.contract import LOADED_AT, RAW_SCHEMA, load_contract
from mailroom.standardize import normalize_email
from mailroom.sync.config import SyncConfig
from mailroom.sync.engine import SyncReport, SyncScope, run_sync
from mailroom.sync.source import sha256, table_exists
from mailroom.warehouse import connect, using_warehouse, warehouse_path

log = logging.getLogger("mailroom.trigger")

SCHEMA = "trigger_state"
MODE_VARIABLE = runner.TRIGGER_MODE_VARIABLE
SELECTOR = "trigger"
STATE_TABLE = "marts.fct_trigger_person_states"
TOUCHED_TABLE = "intermediate.int_trigger__touched_persons"
SIGNALS_TABLE = "intermediate.int_trigger__signals"

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.batches (
    batch_id varchar primary key,
    status varchar not null,
    loaded_after timestamp,
    loaded_until timestamp,
    batch_now timestamp,
    previous_now timestamp,
    started_at timestamp,
    built_at timestamp,
    finished_at timestamp,
    signals bigint,
    touched_persons bigint,
    synced_persons bigint,
    sync_run_id varchar,
    message varchar
);
create table if not exists {SCHEMA}.pending_persons (
    person_id varchar not null,
    subject_hash varchar,
    batch_id varchar not null
);
"""
# The persons a scoped sync reads from the marts.
SCOPE_SQL = f"person_id in (select person_id from {SCHEMA}.pending_persons)"


class TriggerError(RuntimeError):
    """A batch that could not run or failed; the message says why."""


class TriggerBusy(TriggerError):
    """Another batch holds the lock."""


@dataclass
class BatchReport:
    batch_id: str
    status: str = "running"  # succeeded, partial, failed
    loaded_after: dt.datetime | None = None
    loaded_until: dt.datetime | None = None
    batch_now: dt.datetime | None = None
    signals: int = 0
    touched_persons: int = 0
    synced_persons: int = 0
    build_seconds: float = 0.0
    sync_seconds: float = 0.0
    seconds: float = 0.0
    message: str | None = None
    sync: SyncReport | None = None
    audiences: dict[str, int] = field(default_factory=dict)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def lock_path(warehouse: Path | None = None) -> Path:
    path = Path(warehouse or warehouse_path())
    return path.with_name(path.name + ".trigger.lock")


@contextmanager
def batch_lock(warehouse: Path | None = None, wait: bool = False) -> Iterator[None]:
    """The lock one batch holds for its whole run; `wait=False` refuses when it is taken."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise TriggerBusy(
                f"another trigger batch is running on {warehouse or warehouse_path()} (lock {path})"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def trigger_mode() -> Iterator[None]:
    """MAILROOM_TRIGGER_BATCH=true for the block: the dbt build of a batch (macro is_trigger_batch)."""
    previous = os.environ.get(MODE_VARIABLE)
    os.environ[MODE_VARIABLE] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MODE_VARIABLE, None)
        else:
            os.environ[MODE_VARIABLE] = previous


def _has_table(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    return table_exists(con, *qualified.split("."))


def newest_load(con: duckdb.DuckDBPyConnection, wall_clock: dt.datetime) -> dt.datetime | None:
    """The newest `_loaded_at` of the raw tables that is not ahead of the wall clock
    (a loader with a skewed clock must not move the window past rows still to come)."""
    parts = [
        f'select max({LOADED_AT}) as newest from {RAW_SCHEMA}."{name}" where {LOADED_AT} <= ?'
        for name in load_contract()
        if _has_table(con, f"{RAW_SCHEMA}.{name}")
    ]
    if not parts:
        return None
    query = "select max(newest) from (" + " union all ".join(parts) + ")"
    return con.execute(query, [wall_clock] * len(parts)).fetchone()[0]


def default_now(target: str = "dev") -> dt.datetime:
    """The batch's now: the end of a sample world's as-of date (its clock), else the wall clock."""
    as_of = runner.world_vars(target).get("as_of_date")
    if as_of:
        return dt.datetime.combine(dt.date.fromisoformat(as_of), dt.time()) + dt.timedelta(days=1)
    return utcnow()


def _open_batch(
    con: duckdb.DuckDBPyConnection, batch_id: str, now: dt.datetime, wall_clock: dt.datetime
) -> BatchReport:
    con.execute(DDL)
    if not _has_table(con, STATE_TABLE):
        raise TriggerError(
            f"{STATE_TABLE} not found: the trigger lane starts from a routine build "
            "(run `mailroom build` first)"
        )
    # We hold the lock: a batch still 'running' was killed.
    con.execute(
        f"update {SCHEMA}.batches set status = 'abandoned', finished_at = ? "
        "where status = 'running'",
        [wall_clock],
    )
    last = con.execute(
        f"select max(loaded_until), max(batch_now) from {SCHEMA}.batches "
        "where status in ('succeeded', 'partial')"
    ).fetchone()
    merged = con.execute(
        f"select max(loaded_until), max(evaluated_at) from {STATE_TABLE}"
    ).fetchone()
    loaded = [t for t in (last[0], merged[0]) if t is not None]
    lookback = dt.timedelta(minutes=float(runner.project_var("trigger_lookback_minutes")))
    epoch = dt.datetime(1900, 1, 1)
    after = max(loaded) - lookback if loaded else epoch
    until = newest_load(con, wall_clock) or after
    until = max(until, after)
    previous = [t for t in (last[1], merged[1]) if t is not None]
    previous_now = min(max(previous), now) if previous else now
    con.execute(
        f"insert into {SCHEMA}.batches (batch_id, status, loaded_after, loaded_until, batch_now, "
        "previous_now, started_at) values (?, 'running', ?, ?, ?, ?, ?)",
        [batch_id, after, until, now, previous_now, wall_clock],
    )
    return BatchReport(batch_id, loaded_after=after, loaded_until=until, batch_now=now)


def _close_batch(con: duckdb.DuckDBPyConnection, report: BatchReport) -> None:
    con.execute(
        f"update {SCHEMA}.batches set status = ?, finished_at = ?, signals = ?, "
        "touched_persons = ?, synced_persons = ?, sync_run_id = ?, message = ? "
        "where batch_id = ?",
        [
            report.status,
            utcnow(),
            report.signals,
            report.touched_persons,
            report.synced_persons,
            report.sync.run_id if report.sync else None,
            report.message,
            report.batch_id,
        ],
    )


def _queue_touched(con: duckdb.DuckDBPyConnection, batch_id: str) -> tuple[int, int]:
    """Add the batch's touched persons (and their e-mails' hashes) to the pending list;
    returns (signals, touched persons)."""
    signals = con.execute(f"select count(*) from {SIGNALS_TABLE}").fetchone()[0]
    rows = con.execute(f"select person_id, email from {TOUCHED_TABLE}").fetchall()
    pending = set()
    for person_id, email in rows:
        address = normalize_email(email) if isinstance(email, str) else None
        pending.add((person_id, sha256(address) if address else None))
    if pending:
        con.executemany(
            f"insert into {SCHEMA}.pending_persons (person_id, subject_hash, batch_id) "
            "values (?, ?, ?)",
            [(p, h, batch_id) for p, h in sorted(pending, key=lambda r: (r[0], r[1] or ""))],
        )
    return signals, len({p for p, _ in pending})


def _scope(con: duckdb.DuckDBPyConnection) -> tuple[SyncScope, int]:
    """The sync scope of the pending persons, with the addresses they are known by
    (their trigger state's and the last routine build's), for removals."""
    rows = con.execute(
        f"select distinct person_id, subject_hash from {SCHEMA}.pending_persons"
    ).fetchall()
    subjects = frozenset(h for _, h in rows if h)
    emails = con.execute(
        f"""
        select states.email from {STATE_TABLE} as states
        where states.person_id in (select person_id from {SCHEMA}.pending_persons)
        union
        select golden.email from intermediate.int_customers__golden_records as golden
        where golden.person_id in (select person_id from {SCHEMA}.pending_persons)
        """
    ).fetchall()
    addresses = {}
    for (email,) in emails:
        address = normalize_email(email) if isinstance(email, str) else None
        if address and (h := sha256(address)) in subjects:
            addresses[h] = address
    return SyncScope(SCOPE_SQL, subjects, addresses), len({p for p, _ in rows})


def run_batch(
    cfg: SyncConfig,
    *,
    now: dt.datetime | None = None,
    target: str = "dev",
    dry_run: bool = False,
    destination=None,
    wait: bool = False,
) -> BatchReport:
    """One trigger batch: build the trigger selector on the rows landed since the last
    batch, then sync the touched persons' changes. See the module docstring."""
    started = time.monotonic()
    batch_id = utcnow().strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
    warehouse = Path(cfg.warehouse or warehouse_path())
    with batch_lock(warehouse, wait=wait), using_warehouse(warehouse):  # dbt builds this file
        with connect(warehouse) as con:
            report = _open_batch(con, batch_id, now or default_now(target), utcnow())
        try:
            built = time.monotonic()
            with trigger_mode():
                result = runner.dbt_build(selector=SELECTOR, target=target, progress=_Quiet())
            report.build_seconds = time.monotonic() - built
            if not result.success:
                failed = [n for n in result.nodes if n.status in ("error", "fail")]
                detail = "; ".join(f"{n.unique_id}: {n.message}" for n in failed[:3])
                raise TriggerError(
                    "the trigger build failed"
                    + (f": {detail}" if detail else "")
                    + (f" ({result.error})" if result.error else "")
                )
            runner.release_warehouse()
            with connect(warehouse) as con:
                con.execute(
                    f"update {SCHEMA}.batches set built_at = ? where batch_id = ?",
                    [utcnow(), batch_id],
                )
                report.signals, report.touched_persons = _queue_touched(con, batch_id)
                scope, report.synced_persons = _scope(con)
                report.audiences = dict(
                    con.execute(
                        "select audience_id, count(*) from marts.fct_trigger_audience_memberships "
                        "where is_sendable group by 1 order by 1"
                    ).fetchall()
                )
            synced = time.monotonic()
            report.sync = run_sync(cfg, dry_run=dry_run, destination=destination, scope=scope)
            report.sync_seconds = time.monotonic() - synced
            with connect(warehouse) as con:
                if report.sync.status == "succeeded" and not dry_run:
                    # every pending person was in this sync's scope (the lock: nobody added more)
                    con.execute(f"delete from {SCHEMA}.pending_persons")
                    report.status = "succeeded"
                elif dry_run:
                    report.status = "succeeded"
                    report.message = "dry run: nothing sent"
                else:
                    report.status = "partial"
                    report.message = report.sync.message or f"sync {report.sync.status}"
                report.seconds = time.monotonic() - started
                _close_batch(con, report)
            return report
        except BaseException as exc:
            report.status = "failed"
            report.message = str(exc) or type(exc).__name__
            report.seconds = time.monotonic() - started
            runner.release_warehouse()
            with connect(warehouse) as con:
                _close_batch(con, report)
            raise


class _Quiet:
    """A dbt callback that swallows the node log (the batch prints its own summary)."""

    def __call__(self, event) -> None:
        return None

    def finish(self) -> None:
        return None


def parse_interval(text: str) -> float:
    """Seconds of an interval written as 90, 90s, 5m or 1h."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], units[text[-1]]) if text and text[-1] in units else (text, 1)
    try:
        seconds = float(number) * unit
    except ValueError:
        raise ValueError(f"interval {text!r}: write it as 300, 300s, 5m or 1h") from None
    if seconds <= 0:
        raise ValueError(f"interval {text!r} must be positive")
    return seconds


def run_every(
    interval_seconds: float,
    batch: Callable[[], BatchReport],
    *,
    on_report: Callable[[BatchReport | None, BaseException | None], None],
    max_batches: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run `batch` every `interval_seconds` until interrupted (or `max_batches` ran);
    a batch that raises is reported and the loop goes on. Returns the batches run."""
    done = 0
    while max_batches is None or done < max_batches:
        started = time.monotonic()
        try:
            on_report(batch(), None)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the loop survives a failed batch
            log.exception("trigger batch failed")
            on_report(None, exc)
        done += 1
        if max_batches is not None and done >= max_batches:
            break
        sleep(max(0.0, interval_seconds - (time.monotonic() - started)))
    return done
