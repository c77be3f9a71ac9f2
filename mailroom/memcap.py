"""Run a command under a hard cap on the resident memory of its whole process tree.

The command starts in a session (and process group) of its own. Every `interval`
seconds the resident memory of it and all of its descendants is summed from /proc;
past the cap the process group gets SIGTERM, then SIGKILL after `grace` seconds.
The peak reported is the larger of the polled peak and the child's own ru_maxrss
(from wait4), so a short spike between two polls still shows.

An address-space limit (RLIMIT_AS) is no substitute: DuckDB reserves far more
address space than it touches, and a million-person build with DuckDB at 8 GB
failed a 22 GiB address-space limit at 8.9 GiB resident. Linux only (/proc, pidfd).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailroom.warehouse import MEMORY_LIMIT_VAR as DUCKDB_LIMIT_VAR

GIB = 2**30
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
POLL_SECONDS = 0.5
GRACE_SECONDS = 10.0


def tree_rss(root: int) -> int:
    """Resident bytes of process `root` and all of its descendants (0 if it is gone)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:  # gone since listdir
            continue
        # fields after "(comm)", which may itself hold spaces or parentheses
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21]) * PAGE_SIZE
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def duckdb_limit(cap_gib: float) -> str:
    """DuckDB's memory_limit for a cap: half of it, so DuckDB spills long before the cap."""
    return f"{max(cap_gib / 2, 0.01):g}GiB"


@dataclass
class CappedRun:
    returncode: int  # negative: killed by that signal
    seconds: float
    peak_bytes: int  # max of the polled tree RSS and the child's ru_maxrss
    stopped_bytes: int  # tree RSS when it was stopped over the cap; 0 if it was not
    stdout: str
    stderr: str

    @property
    def over_cap(self) -> bool:
        return self.stopped_bytes > 0


def run_capped(
    cmd: Sequence[str],
    cap_gib: float,
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    interval: float = POLL_SECONDS,
    grace: float = GRACE_SECONDS,
) -> CappedRun:
    """Run `cmd` to the end, or until its process tree is resident above `cap_gib` GiB.

    Its environment gets MAILROOM_DUCKDB_MEMORY_LIMIT = half the cap unless `env`
    (default: this process's) sets it. Output is collected in temporary files, so
    a chatty child never blocks on a full pipe.
    """
    cap = int(cap_gib * GIB)
    child_env = dict(os.environ if env is None else env)
    if not child_env.get(DUCKDB_LIMIT_VAR):  # empty counts as unset, as in warehouse.py
        child_env[DUCKDB_LIMIT_VAR] = duckdb_limit(cap_gib)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=child_env, stdout=out, stderr=err, start_new_session=True
        )
        pidfd = os.pidfd_open(proc.pid)  # readable once the child has exited
        peak = stopped = 0
        try:
            while not _exited(pidfd, 0):
                used = tree_rss(proc.pid)
                peak = max(peak, used)
                if used > cap:
                    stopped = used
                    _signal_group(proc.pid, signal.SIGTERM)
                    if not _exited(pidfd, grace):
                        _signal_group(proc.pid, signal.SIGKILL)
                    break
                _exited(pidfd, interval)
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C of the parent: its own session does not get the SIGINT
            _signal_group(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            raise
        finally:
            os.close(pidfd)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if stopped:
            _signal_group(proc.pid, signal.SIGKILL)  # anything of the group still left
        out.seek(0)
        err.seek(0)
        return CappedRun(
            returncode=proc.returncode,
            seconds=seconds,
            peak_bytes=max(peak, usage.ru_maxrss * 1024),  # ru_maxrss is in KiB on Linux
            stopped_bytes=stopped,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
        )


def _exited(pidfd: int, timeout: float) -> bool:
    return bool(select.select([pidfd], [], [], timeout)[0])


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone
        os.killpg(pgid, sig)
