"""A dbt build's progress, in place of dbt's line per node.

`mailroom build` runs dbt with `--quiet` (errors still print, the full node
log goes to dbt's log file) and passes a `BuildProgress` as a dbt event
callback. On a terminal it draws one progress bar (the stage of the latest
model, nodes done of the selection, failures, elapsed time); elsewhere (CI, a
log file) it prints a line at every tenth of the nodes. At the end one line
per stage (staging, identity, features, training, scoring, activation): its
models and the wall time during which they ran. A build fits one screen;
`mailroom build --verbose` streams dbt's node log instead.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mailroom.stages import STAGES, path_stage, span, union_seconds

# Nodes whose stage their path tells: models, seeds and snapshots. Tests and
# unit tests run right after what they test and count only in the totals.
PLACED = ("model", "seed", "snapshot")
FAILED = ("error", "fail", "runtime error")
MILESTONES = 10  # lines printed without a terminal: one per tenth of the nodes


class BuildProgress:
    """dbt event callback (`dbtRunner(callbacks=[...])`); dbt calls it from its threads."""

    def __init__(self, console: Console, live: bool | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.total = 0
        self.done = 0
        self.failed = 0
        self.stage = STAGES[0]
        self.models: dict[str, int] = {}
        self.spans: dict[str, list[tuple[float, float]]] = {}
        self._printed = 0  # milestones printed
        self._lock = threading.Lock()
        self._started = time.monotonic()
        self._bar: Progress | None = None
        self._task = None

    def __call__(self, msg) -> None:
        name = msg.info.name
        if name == "LogStartLine":
            with self._lock:
                self.total = max(self.total, int(msg.data.total))
        elif name == "NodeFinished":
            info = msg.data.node_info
            with self._lock:
                self.finished(
                    info.resource_type,
                    info.node_path,
                    info.node_name,
                    info.node_status,
                    info.node_started_at,
                    info.node_finished_at,
                )

    def finished(
        self,
        resource_type: str,
        path: str,
        name: str,
        status: str,
        started_at: str = "",
        finished_at: str = "",
    ) -> None:
        """One node done (dbt's NodeFinished)."""
        self.done += 1
        if status in FAILED:
            self.failed += 1
        if resource_type in PLACED:
            stage = "staging" if resource_type == "seed" else path_stage(path or "", name or "")
            stage = stage or "other"
            self.stage = stage
            self.models[stage] = self.models.get(stage, 0) + 1
            interval = span(started_at, finished_at)
            if interval:
                self.spans.setdefault(stage, []).append(interval)
        self._show()

    def _show(self) -> None:
        if not self.live:
            reached = self.done * MILESTONES // self.total if self.total else 0
            if reached > self._printed and self.done < self.total:
                self._printed = reached
                self._line(f"{self.done * 100 // self.total:3d}%  {self.stage}")
            return
        if self._bar is None:
            self._bar = Progress(
                TextColumn("{task.description:<10}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]}"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.stage, total=self.total or None, failed="")
        self._bar.update(
            self._task,
            description=self.stage,
            completed=self.done,
            total=self.total or None,
            failed=f"{self.failed} failed" if self.failed else "",
        )

    def _line(self, text: str) -> None:
        width = len(str(self.total))
        elapsed = time.monotonic() - self._started
        self.console.print(
            f"  [{self.done:>{width}}/{self.total}] {text}  {elapsed:.0f} s",
            highlight=False,
            markup=False,
        )

    def finish(self) -> None:
        """Close the bar or print the last line, then a line per stage."""
        with self._lock:
            if self._bar is not None:
                self._bar.update(self._task, description="done")
                self._bar.stop()
            failed = f", {self.failed} failed" if self.failed else ""
            elapsed = time.monotonic() - self._started
            self.console.print(
                f"  [{self.done}/{self.total}] done{failed} in {elapsed:.0f} s",
                highlight=False,
                markup=False,
            )
            for stage in STAGES:
                if stage in self.models:
                    self.console.print(
                        f"    {stage:<11}{self.models[stage]:>4} models "
                        f"{union_seconds(self.spans.get(stage, [])):6.1f} s",
                        highlight=False,
                        markup=False,
                    )
