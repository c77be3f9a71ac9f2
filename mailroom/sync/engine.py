"""The sync run: plan what changed, check the mass-delete guard, deliver batch by batch.

1. Plan (first pass over each mart, streamed): each row's key hash and payload
   hash against `sync_state.records` gives create (new key, or never
   acknowledged), update (payload hash differs from the acknowledged one),
   unchanged, or invalid (rejected before with this same payload, or not
   sendable: bad JSON, too large). An acknowledged key no longer in the mart
   is a removal. A deletions row not yet acknowledged is an erasure (never
   invalid: a rejected erasure fails and is sent again next run); a profile
   or membership whose address is in the deletions mart is suppressed: it is
   only ever erased, never upserted.
2. Guard: when a stream's removals exceed `max_delete_share` of the keys the
   destination holds for it (its acknowledged audience), the run is refused:
   no upsert and no removal is sent. Erasures are legally required and are not
   blocked: they are still sent, and do not count towards the share.
3. Deliver (second pass, only the planned keys): erasures first, then
   profiles, then memberships. The destination yields a list of outcomes per
   batch; each list is committed to `records` and `audit` in one transaction
   before the next batch is sent, so a run killed between batches resumes with
   only the remainder, and an unchanged payload is never sent twice. Failed
   rows (retries exhausted) keep status failed and are retried next run. An
   acknowledged erasure deletes the person's other records and audit rows
   (`StateStore.commit`).
4. Scope (the trigger lane, `mailroom.trigger`): a run given a `SyncScope`
   plans only the mart rows of its persons and the state records of their
   e-mails, so its cost follows the persons a trigger batch touched, not the
   marts' size. Everything else holds: the diff against acknowledged state,
   suppression of erased addresses, and the mass-delete guard, whose share
   is still taken of every key the destination holds for the stream.
5. Report: per stream, source rows = created + updated + unchanged + invalid +
   failed + suppressed + skipped (+ not attempted, when interrupted), plus
   removals and erasures, and the HTTP requests, retries and timed-out
   requests; one `runs` row.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from mailroom.sync.base import Destination, FatalDestinationError, Item
from mailroom.sync.config import SyncConfig
from mailroom.sync.source import (
    DELETIONS,
    MART_NAMES,
    MEMBERSHIPS,
    PROFILES,
    STREAMS,
    SourceError,
    SourceRow,
    check_mart,
    count_rows,
    lookup_addresses,
    read_stream,
    table_exists,
)
from mailroom.sync.state import (
    ACKNOWLEDGED,
    DELETED,
    FAILED,
    INVALID,
    REMOVED,
    Outcome,
    RecordState,
    StateStore,
)
from mailroom.warehouse import connect

log = logging.getLogger("mailroom.sync")

BatchHook = Callable[[str, int], None]

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass
class StreamCounts:
    source_rows: int = 0
    # outcomes of rows in the mart
    created: int = 0
    updated: int = 0
    deleted: int = 0  # erasures acknowledged (deletions stream)
    unchanged: int = 0
    invalid: int = 0
    failed: int = 0
    suppressed: int = 0  # in the deletions mart: erased, never upserted
    skipped: int = 0  # membership whose member does not exist (yet)
    duplicates: int = 0  # a key seen twice in the mart (the marts promise none)
    not_sent: int = 0  # stream the destination does not take
    not_attempted: int = 0  # planned, not sent: refused or interrupted run
    # keys that left the mart
    removed: int = 0
    remove_failed: int = 0
    remove_invalid: int = 0
    remove_not_attempted: int = 0
    # the plan
    planned_creates: int = 0
    planned_updates: int = 0
    planned_removes: int = 0
    planned_deletes: int = 0
    present_before: int = 0  # keys the destination held (acknowledged audience)

    @property
    def sent(self) -> int:
        return self.created + self.updated + self.deleted

    @property
    def accounted(self) -> int:
        return (
            self.sent
            + self.unchanged
            + self.invalid
            + self.failed
            + self.suppressed
            + self.skipped
            + self.duplicates
            + self.not_sent
            + self.not_attempted
        )

    @property
    def reconciled(self) -> bool:
        removals = self.removed + self.remove_failed + self.remove_invalid
        return self.accounted == self.source_rows and (
            removals + self.remove_not_attempted == self.planned_removes
        )


@dataclass(frozen=True)
class SyncScope:
    """The part of the marts a run looks at: rows matching `persons_sql` (a SQL
    predicate on the marts' person_id) and state records of `subjects` (sha256
    of the persons' e-mails, whatever the marts hold for them now)."""

    persons_sql: str
    subjects: frozenset[str]
    # sha256 -> address of the persons' e-mails: a removal finds its address
    # here when the removal lookup (the last routine build) does not have it
    addresses: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamPlan:
    stream: str
    counts: StreamCounts
    state: dict[str, RecordState]
    # Planned and not yet committed: key_hash -> create/update/delete, and removals.
    ops: dict[str, str] = field(default_factory=dict)
    removals: dict[str, None] = field(default_factory=dict)
    local_invalid: list[Outcome] = field(default_factory=list)
    restore: list[str] = field(default_factory=list)
    applicable: bool = True


@dataclass
class SyncReport:
    run_id: str
    destination: str
    mode: str  # live, dry-run
    status: str = "running"  # succeeded, partial, failed, refused, interrupted, dry-run
    message: str | None = None
    streams: dict[str, StreamCounts] = field(default_factory=dict)
    http_requests: int = 0
    http_retries: int = 0  # of http_requests, those that retried an earlier attempt
    http_timeouts: int = 0  # attempts that got no answer in time (each one retried or failed)
    notes: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    @property
    def reconciled(self) -> bool:
        return all(c.reconciled for c in self.streams.values())

    @property
    def exit_code(self) -> int:
        if self.refused:
            return EXIT_REFUSED
        if self.status == "interrupted":
            return EXIT_INTERRUPTED
        return EXIT_FAILED if self.status in ("partial", "failed") else EXIT_OK

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {"http_requests": self.http_requests}
        for counts in self.streams.values():
            for name in (
                "source_rows",
                "created",
                "updated",
                "unchanged",
                "invalid",
                "failed",
                "skipped",
                "removed",
                "deleted",
            ):
                out[name] = out.get(name, 0) + getattr(counts, name)
        return out


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def destination_class(name: str) -> type[Destination]:
    if name == "klaviyo":
        from mailroom.sync.klaviyo import KlaviyoDestination

        return KlaviyoDestination
    if name == "mailchimp":
        from mailroom.sync.mailchimp import MailchimpDestination

        return MailchimpDestination
    from mailroom.sync.files import FileDestination

    return FileDestination


def make_destination(cfg: SyncConfig, run_id: str) -> Destination:
    if cfg.destination == "klaviyo":
        from mailroom.sync.klaviyo import KlaviyoDestination

        return KlaviyoDestination(cfg.klaviyo, cfg.http)
    if cfg.destination == "mailchimp":
        from mailroom.sync.mailchimp import MailchimpDestination

        return MailchimpDestination(cfg.mailchimp, cfg.http)
    from mailroom.sync.files import FileDestination

    return FileDestination(cfg.file, run_id)


def _decide(state: RecordState | None, payload: str) -> str:
    """create, update, unchanged or invalid, for a row of the mart."""
    if state is None or state.status in (REMOVED, DELETED):
        return "create"
    if state.status == INVALID and state.payload_hash == payload:
        return "invalid"
    if state.acked_hash == payload and state.status in (ACKNOWLEDGED, FAILED):
        return "unchanged"
    return "create" if state.acked_hash is None else "update"


def _column_types(con: duckdb.DuckDBPyConnection, schema: str, stream: str) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, MART_NAMES[stream]],
    ).fetchall()
    return dict(rows)


class SyncRun:
    def __init__(
        self,
        cfg: SyncConfig,
        con: duckdb.DuckDBPyConnection,
        dry_run: bool,
        destination: Destination | None,
        on_batch: BatchHook | None,
        run_id: str,
        scope: SyncScope | None = None,
    ) -> None:
        self.cfg = cfg
        self.scope = scope
        self.con = con
        self.dry_run = dry_run
        self.destination = destination
        self.on_batch = on_batch
        self.schema = cfg.marts_schema
        self.store = StateStore(con, cfg.destination, run_id)
        self.report = SyncReport(run_id, cfg.destination, "dry-run" if dry_run else "live")
        self.plans: dict[str, StreamPlan] = {}
        self.kind = type(destination) if destination else destination_class(cfg.destination)
        self.erased: set[str] = set()
        self.batches = 0

    # -- planning -------------------------------------------------------------------------------

    def _rows(self, stream: str) -> Iterator[SourceRow]:
        where = None
        if self.scope is not None and stream != DELETIONS:  # erasures: every one, always
            where = self.scope.persons_sql
        return read_stream(self.con, self.schema, stream, self.cfg.read_batch_rows, where)

    def plan(self) -> None:
        kind = self.kind
        sends_memberships, needs_profile = kind.sends_memberships, kind.memberships_need_profile
        check_mart(self.con, self.schema, PROFILES)
        check_mart(self.con, self.schema, DELETIONS)
        if sends_memberships:
            check_mart(self.con, self.schema, MEMBERSHIPS)

        deletions = self._new_plan(DELETIONS)
        seen: set[str] = set()
        for row in self._rows(DELETIONS):
            c = deletions.counts
            c.source_rows += 1
            if row.key_hash in seen:
                c.duplicates += 1
                continue
            seen.add(row.key_hash)
            self.erased.add(row.subject_hash)
            st = deletions.state.get(row.key_hash)
            if st is not None and st.status == DELETED:
                c.unchanged += 1
            else:  # an erasure is never left as invalid: until acknowledged, it is sent again
                deletions.ops[row.key_hash] = "delete"
                c.planned_deletes += 1

        profiles = self._plan_upserts(PROFILES)
        member_exists = {k for k, st in profiles.state.items() if st.present} | set(profiles.ops)
        if sends_memberships:
            self._plan_upserts(MEMBERSHIPS, member_exists if needs_profile else None)
        else:
            plan = self._new_plan(MEMBERSHIPS, load_state=False)
            plan.applicable = False
            if table_exists(self.con, self.schema, MART_NAMES[MEMBERSHIPS]):
                plan.counts.source_rows = count_rows(self.con, self.schema, MEMBERSHIPS)
                plan.counts.not_sent = plan.counts.source_rows

    def _new_plan(self, stream: str, load_state: bool = True) -> StreamPlan:
        subjects = None
        if self.scope is not None and stream != DELETIONS:
            subjects = self.scope.subjects
        state = self.store.load(stream, subjects) if load_state else {}
        plan = StreamPlan(stream, StreamCounts(), state)
        self.plans[stream] = plan
        self.report.streams[stream] = plan.counts
        return plan

    def _plan_upserts(self, stream: str, member_exists: set[str] | None = None) -> StreamPlan:
        plan = self._new_plan(stream)
        c = plan.counts
        seen: set[str] = set()
        for row in self._rows(stream):
            c.source_rows += 1
            if row.key_hash in seen:
                c.duplicates += 1
                continue
            seen.add(row.key_hash)
            if row.subject_hash in self.erased:
                c.suppressed += 1
                continue
            if member_exists is not None and row.subject_hash not in member_exists:
                c.skipped += 1
                continue
            st = plan.state.get(row.key_hash)
            decision = _decide(st, row.payload_hash)
            if row.problem and decision != "invalid":
                plan.local_invalid.append(
                    Outcome(
                        row.key_hash,
                        row.subject_hash,
                        "update" if st is not None and st.acked_hash else "create",
                        INVALID,
                        row.payload_hash,
                        error=row.problem,
                        group_key=row.group_key,
                    )
                )
                c.invalid += 1
            elif decision == "unchanged":
                c.unchanged += 1
                if st is not None and st.status == FAILED:
                    plan.restore.append(row.key_hash)
            elif decision == "invalid":
                c.invalid += 1
            else:
                plan.ops[row.key_hash] = decision
                if decision == "create":
                    c.planned_creates += 1
                else:
                    c.planned_updates += 1
        for key, st in plan.state.items():
            if st.present:
                c.present_before += 1
                if key not in seen and st.subject_hash not in self.erased:
                    plan.removals[key] = None
        if self.scope is not None:  # the guard's share is of everything the destination holds
            c.present_before = self.store.count_present(stream)
        c.planned_removes = len(plan.removals)
        return plan

    def guard(self) -> None:
        share = self.cfg.max_delete_share
        for stream in (PROFILES, MEMBERSHIPS):
            plan = self.plans.get(stream)
            if plan is None or not plan.applicable or not plan.removals:
                continue
            c = plan.counts
            ratio = len(plan.removals) / max(c.present_before, 1)
            if ratio > share:
                self.report.refused.append(
                    f"{stream}: {len(plan.removals):,} removals are {ratio:.1%} of the "
                    f"{c.present_before:,} keys {self.cfg.destination} holds, more than "
                    f"--max-delete-share {share:.0%}"
                )

    # -- delivery ---------------------------------------------------------------------------------

    def deliver(self, stream: str) -> None:
        plan = self.plans[stream]
        if not plan.applicable:
            return
        self.store.restore_acknowledged(stream, plan.restore)
        if plan.local_invalid:
            self._commit(stream, plan.local_invalid, count_invalid=False)
        if not plan.ops and not plan.removals:
            return
        assert self.destination is not None
        self.destination.set_columns(stream, _column_types(self.con, self.schema, stream))
        for outcomes in self.destination.deliver(stream, self._items(plan)):
            self._commit(stream, outcomes)

    def _items(self, plan: StreamPlan) -> Iterator[Item]:
        stream, c = plan.stream, plan.counts
        if plan.ops:
            profiles = self.plans[PROFILES].state
            needs_profile = stream == MEMBERSHIPS and self.kind.memberships_need_profile
            for row in self._rows(stream):
                operation = plan.ops.get(row.key_hash)
                if operation is None:
                    continue
                if needs_profile and not (
                    (p := profiles.get(row.subject_hash)) is not None and p.present
                ):
                    del plan.ops[row.key_hash]
                    c.skipped += 1  # its member was not created (invalid or failed)
                    continue
                yield Item(
                    stream,
                    operation,
                    row.key_hash,
                    row.subject_hash,
                    row.payload_hash,
                    row.record,
                    group_key=row.group_key,
                )
        if plan.removals:
            addresses: dict[str, str] = {}
            if self.kind.removal_needs_address or any(
                plan.state[k].esp_id is None for k in plan.removals
            ):
                wanted = {plan.state[k].subject_hash for k in plan.removals}
                addresses = lookup_addresses(self.con, self.cfg.removal_lookup, wanted)
                if self.scope is not None:  # a person the lookup does not know yet
                    addresses = {**self.scope.addresses, **addresses}
            for key in list(plan.removals):
                st = plan.state[key]
                record = {"email": addresses.get(st.subject_hash)}
                if stream == MEMBERSHIPS:
                    record["audience_key"] = st.group_key
                yield Item(
                    stream,
                    "remove",
                    key,
                    st.subject_hash,
                    None,
                    record,
                    esp_id=st.esp_id,
                    group_key=st.group_key,
                )

    def _commit(self, stream: str, outcomes: list[Outcome], count_invalid: bool = True) -> None:
        plan = self.plans[stream]
        self.store.commit(stream, outcomes, plan.state)
        c = plan.counts
        tally = {"acknowledged": 0, "invalid": 0, "failed": 0}
        for o in outcomes:
            tally[o.status] += 1
            if o.operation == "remove":
                plan.removals.pop(o.key_hash, None)
            else:
                plan.ops.pop(o.key_hash, None)
            if o.operation == "remove":
                if o.status == ACKNOWLEDGED:
                    c.removed += 1
                elif o.status == INVALID:
                    c.remove_invalid += 1
                else:
                    c.remove_failed += 1
                continue
            if o.status == ACKNOWLEDGED:
                if o.operation == "delete":
                    c.deleted += 1  # the store forgot the person's other records
                elif o.operation == "create":
                    c.created += 1
                else:
                    c.updated += 1
            elif o.status == INVALID:
                if count_invalid:
                    c.invalid += 1
            else:
                c.failed += 1
        self.batches += 1
        log.info(
            "%s batch %d committed: %d acknowledged, %d invalid, %d failed",
            stream,
            self.batches,
            tally["acknowledged"],
            tally["invalid"],
            tally["failed"],
        )
        if self.on_batch is not None:
            self.on_batch(stream, self.batches)

    def close_counts(self) -> None:
        """Planned operations that were never attempted (refused or interrupted run)."""
        for plan in self.plans.values():
            plan.counts.not_attempted += len(plan.ops)
            plan.counts.remove_not_attempted += len(plan.removals)
            plan.ops, plan.removals = {}, {}

    # -- the run ------------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        report = self.report
        self.store.start_run(report.mode, self.cfg.max_delete_share)
        try:
            if not self.dry_run:
                self.store.forget_erased_before()
            self.plan()
            self.guard()
            if self.dry_run:
                report.status = "dry-run"
                report.message = "dry run: nothing sent" + (
                    "; the mass-delete guard would refuse this run" if report.refused else ""
                )
                self.close_counts()  # the plan is reported as not attempted
                return report
            streams = (DELETIONS,) if report.refused else STREAMS
            for stream in streams:
                self.deliver(stream)
            self.close_counts()
            if report.refused:
                report.status = "refused"
                report.message = "refused by the mass-delete guard: no upsert or removal sent" + (
                    f"; {report.streams[DELETIONS].deleted:,} erasures sent (legally "
                    "required, never blocked by the guard)"
                    if report.streams[DELETIONS].planned_deletes
                    else ""
                )
            else:
                failed = sum(c.failed + c.remove_failed for c in report.streams.values())
                report.status = "partial" if failed else "succeeded"
                report.message = (
                    f"{failed:,} operations failed and will be retried next run" if failed else None
                )
            return report
        except BaseException as exc:
            self.close_counts()
            if isinstance(exc, FatalDestinationError | SourceError):
                report.status = "failed"
                report.message = str(exc)
                return report
            report.status = "interrupted"
            report.message = f"interrupted ({type(exc).__name__}) after {self.batches} batches"
            raise
        finally:
            report.notes = list(self.kind.notes)
            if self.destination is not None:
                report.http_requests = self.destination.http_requests
                report.http_retries = self.destination.http_retries
                report.http_timeouts = self.destination.http_timeouts
                report.files = list(getattr(self.destination, "written", []))
            counts = {s: asdict(c) for s, c in report.streams.items()}
            self.store.finish_run(report.status, report.totals(), counts, report.message)


def run_sync(
    cfg: SyncConfig,
    *,
    dry_run: bool = False,
    destination: Destination | None = None,
    on_batch: BatchHook | None = None,
    scope: SyncScope | None = None,
) -> SyncReport:
    """Run one sync of the three marts to `cfg.destination`; see the module docstring.

    `destination` replaces the configured one (tests); `on_batch(stream, n)` is
    called after each committed batch (a hook that raises stops the run there,
    as a killed process would); `scope` limits the run to some persons (the
    trigger lane).
    """
    run_id = new_run_id()
    with connect(cfg.warehouse) as con:
        dest = None if dry_run else (destination or make_destination(cfg, run_id))
        try:
            return SyncRun(cfg, con, dry_run, dest, on_batch, run_id, scope).run()
        finally:
            if dest is not None:
                dest.close()
