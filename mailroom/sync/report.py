"""Printing a sync report: counts per stream, never a key or an address."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from mailroom.sync.engine import SyncReport

PLAN_COLUMNS = (
    ("source", "source_rows"),
    ("to create", "planned_creates"),
    ("to update", "planned_updates"),
    ("to remove", "planned_removes"),
    ("to delete (erase)", "planned_deletes"),
    ("unchanged", "unchanged"),
    ("invalid", "invalid"),
    ("suppressed", "suppressed"),
    ("skipped", "skipped"),
)
RUN_COLUMNS = (
    ("source", "source_rows"),
    ("created", "created"),
    ("updated", "updated"),
    ("deleted (erased)", "deleted"),
    ("unchanged", "unchanged"),
    ("invalid", "invalid"),
    ("failed", "failed"),
    ("suppressed", "suppressed"),
    ("skipped", "skipped"),
    ("not sent", "not_attempted"),
    ("removed", "removed"),
    ("remove failed", "remove_failed"),
    ("remove not sent", "remove_not_attempted"),
)


def print_report(report: SyncReport, console: Console | None = None) -> None:
    """One column per stream, one row per count: fits a terminal of 80 columns."""
    console = console or Console()
    dry = report.mode == "dry-run"
    title = (
        f"sync to {report.destination} ({'dry run: planned' if dry else 'run ' + report.run_id})"
    )
    streams = {s: c for s, c in report.streams.items() if not c.not_sent}
    table = Table(title=title)
    table.add_column("rows")
    for stream in streams:
        table.add_column(stream, justify="right")
    for label, attr in PLAN_COLUMNS if dry else RUN_COLUMNS:
        table.add_row(label, *(f"{getattr(c, attr):,}" for c in streams.values()))
    table.add_row("reconciled", *("yes" if c.reconciled else "NO" for c in streams.values()))
    console.print(table)
    console.print(
        "source = created + updated + deleted + unchanged + invalid + failed + suppressed "
        "+ skipped + not sent; removals are keys that left the mart"
    )
    for note in report.notes:
        console.print(note)
    for stream, counts in report.streams.items():
        if counts.not_sent:
            console.print(
                f"{stream}: {counts.source_rows:,} source rows, not sent to {report.destination}"
            )
    for path in report.files:
        console.print(f"wrote {path}")
    for reason in report.refused:
        console.print(f"[red]mass-delete guard:[/red] {reason}")
    console.print(
        f"status: {report.status}; {report.http_requests:,} HTTP requests "
        f"({report.http_retries:,} retries, {report.http_timeouts:,} timed out)"
        + (f"; {report.message}" if report.message else "")
    )
