"""The benchmark's bookkeeping: stage times from dbt's artifacts and the report's verdicts,
and the memory cap every step runs under.

The benchmark itself is a command (`make bench`), not a test; these check
the arithmetic and the wording it reports with, on made-up figures, and stop
a real child process over a deliberately tiny cap.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mailroom import bench, memcap, stages
from mailroom.bench import Measurement

MIB = 2**20
# holds MiB resident, says so, and waits to be killed
HOLD = "import time; b = b'x' * ({mib} << 20); print('ready', flush=True); time.sleep(60)"


def test_union_seconds_counts_overlaps_once() -> None:
    assert stages.union_seconds([]) == 0.0
    assert stages.union_seconds([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17.0


def _result(uid: str, start: str, end: str, seconds: float) -> dict:
    timing = [{"started_at": start, "completed_at": end}]
    return {"unique_id": uid, "timing": timing, "execution_time": seconds}


def test_stage_times_follow_folders_tags_and_tested_models() -> None:
    manifest = {
        "nodes": {
            "model.m.base": {
                "name": "base",
                "resource_type": "model",
                "tags": [],
                "original_file_path": "models/staging/web/base.sql",
            },
            "model.m.history": {
                "name": "history",
                "resource_type": "model",
                "tags": ["training"],
                "original_file_path": "models/intermediate/customers/history.sql",
            },
            "test.m.not_null_base": {
                "name": "not_null_base",
                "resource_type": "test",
                "tags": [],
                "depends_on": {"nodes": ["model.m.base"]},
            },
        }
    }
    run_results = {
        "results": [
            _result("model.m.base", "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z", 10.0),
            _result("test.m.not_null_base", "2026-01-01T00:00:05Z", "2026-01-01T00:00:15Z", 10.0),
            _result("model.m.history", "2026-01-01T00:00:15Z", "2026-01-01T00:00:45Z", 30.0),
        ]
    }
    times = stages.stage_times(run_results, manifest)
    assert times["staging"] == {"wall_seconds": 15.0, "node_seconds": 20.0, "nodes": 2}
    assert times["training"] == {"wall_seconds": 30.0, "node_seconds": 30.0, "nodes": 1}
    assert set(times) == {"staging", "training"}


def test_report_marks_failed_builds_and_judges_targets() -> None:
    results = [
        Measurement("generate_held_back", 100_000, 50.0, 1000.0, {"raw_rows": 4_000_000}),
        Measurement("full_build", 100_000, 300.0, 4000.0, {"raw_rows": 4_000_000, "success": True}),
        Measurement("land", 100_000, 2.0, 500.0, {"landed_rows": 16_000}),
        Measurement(
            "incremental_build",
            100_000,
            200.0,
            3000.0,
            {"raw_rows": 4_016_000, "success": False, "failed": ["model.m.x"]},
        ),
        Measurement("generate", 1_000_000, 450.0, 3000.0, {"raw_rows": 40_000_000}),
        Measurement(
            "full_build", 1_000_000, 1300.0, 20000.0, {"raw_rows": 40_000_000, "success": True}
        ),
    ]
    text = bench.report(results, "mailroom bench -n 100000 -n 1000000")
    rows = {
        " ".join(line.split(" | ")[:2]): line for line in text.splitlines() if line.count(" | ") > 2
    }
    assert rows["| generate (last day held back) 100,000"].endswith("|  |  |")
    assert rows["| full build 100,000"].endswith("| ok |")
    assert rows["| incremental build 100,000"].endswith("| FAILED |")
    assert "| 16,000 | 80 |" in rows["| incremental build 100,000"]  # landed rows per second
    assert "4.3x the time for 10x the people (allowed: 12x): met" in text
    assert "full build at 1,000,000 people: 1,300 s (target 600 s): missed" in text


def test_the_trigger_batch_is_judged_on_its_steady_state() -> None:
    batch = {"build_seconds": 20.0, "sync_seconds": 2.0, "signals": 900, "status": "succeeded"}
    results = [
        Measurement(
            "trigger_batches",
            1_000_000,
            70.0,
            6000.0,
            {
                "success": True,
                "raw_rows": 1_200,
                "batches": [
                    {**batch, "seconds": 41.0, "landed_rows": 1_100, "touched_persons": 300},
                    {**batch, "seconds": 24.5, "landed_rows": 1_200, "touched_persons": 310},
                ],
            },
        )
    ]
    text = bench.report(results, "mailroom bench -n 1000000")
    assert "| trigger batches (2, 5 min of traffic each) | 1,000,000 | 70.0 |" in text
    assert (
        "trigger batch at 1,000,000 people, landing to ESP-ready rows: 24.5 s (build 20.0 s, "
        "sync 2.0 s; 1,200 rows landed, 900 signals, 310 persons) (target 30 s): met"
    ) in text
    assert "re-parses what reads the trigger lane's mode: 41.0 s" in text


def test_five_minutes_of_traffic_land_as_new_rows(tmp_path: Path) -> None:
    import duckdb

    from mailroom.warehouse import ensure_raw_schema

    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_raw_schema(con)
        # 2,880 web events over the last day (one per 30 s) and one the day before
        con.execute(
            "insert into raw.web_events (event_id, event_type, event_at, _loaded_at) "
            "select 'e' || i, 'page_view', '2026-09-30T00:00:00Z', "
            "timestamp '2026-09-30 23:59:30' - i * interval 30 second from range(2881) t(i)"
        )
        landed = bench.land_recent_minutes(con, 5, "t1")
        rows = con.execute(
            "select event_id, _loaded_at from raw.web_events where event_id like '%-t1'"
        ).fetchall()
        again = bench.land_recent_minutes(con, 5, "t2")
    assert landed == len(rows) == 10  # 5/1440 of the 2,880 rows of the last day
    assert {r[1] for r in rows} == {dt.datetime(2026, 9, 30, 23, 59, 31)}
    assert again == 11  # the day now holds 2,890 rows: the next slice, keys of its own


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[21]) * memcap.PAGE_SIZE


def test_tree_rss_counts_every_descendant() -> None:
    # sh forks (it has more to do after python), so the memory is a grandchild's
    cmd = f'{sys.executable} -c "{HOLD.format(mib=128)}"; true'
    sh = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert sh.stdout.readline() == b"ready\n"
        assert _rss(sh.pid) < 32 * MIB
        assert memcap.tree_rss(os.getpid()) > memcap.tree_rss(sh.pid) >= 128 * MIB
    finally:
        os.killpg(sh.pid, signal.SIGKILL)
        sh.wait()
    assert memcap.tree_rss(sh.pid) == 0


def test_run_capped_runs_a_command_under_the_cap_to_the_end() -> None:
    code = "import os; b = b'x' * (64 << 20); print(os.environ['MAILROOM_DUCKDB_MEMORY_LIMIT'])"
    env = {k: v for k, v in os.environ.items() if k != memcap.DUCKDB_LIMIT_VAR}
    out = memcap.run_capped([sys.executable, "-c", code], 4, env=env)
    assert (out.returncode, out.over_cap, out.stdout) == (0, False, "2GiB\n")
    assert out.peak_bytes >= 64 * MIB  # ru_maxrss, even if no poll saw it
    out = memcap.run_capped(
        [sys.executable, "-c", code], 4, env={**env, memcap.DUCKDB_LIMIT_VAR: "3GB"}
    )
    assert out.stdout == "3GB\n"  # the user's setting wins


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and text in Path(f"/proc/{name}/cmdline").read_text():
                found.append(int(name))
        except OSError:
            continue
    return found


def test_bench_stops_a_step_over_the_memory_cap_and_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hold_memory` holds 256 MiB until killed: over a 0.15 GiB cap at every poll, however slow
    monkeypatch.setattr(bench, "world_steps", lambda **_: ["hold_memory", "full_build"])
    report_path = tmp_path / "REPORT.md"
    with pytest.raises(bench.BenchFailed) as failure:
        bench.run([300], tmp_path / "work", report_path, "test", memory_cap_gib=0.15)
    stopped = r"stopped at \d\.\d GiB resident > cap 0\.15 GiB"  # at the poll's figure
    assert re.search(f"hold_memory at 300 people {stopped}", str(failure.value))
    assert _processes_mentioning(str(tmp_path)) == []  # the child and its group are gone
    [step] = json.loads(report_path.with_suffix(".json").read_text())  # full_build not run
    assert step["step"] == "hold_memory" and step["peak_mb"] >= 0.15 * 1024
    text = report_path.read_text()
    assert "under a cap of 0.15 GiB on the resident memory of its process tree" in text
    assert re.search(rf"\| hold memory \| 300 \|.*\| FAILED: {stopped} \|", text)
    assert "## Failed steps" in text


@pytest.mark.parametrize("keep", [True, False])
def test_a_world_is_deleted_after_its_steps_unless_kept(tmp_path: Path, keep: bool) -> None:
    work = tmp_path / "work"
    bench.run([200], work, tmp_path / "REPORT.md", "test", build=False, keep=keep)
    assert (work / "bench_200.duckdb").exists() is keep


def test_a_failing_step_is_a_failed_measurement_with_its_error(tmp_path: Path) -> None:
    m = bench.measure("no_such_step", 10, tmp_path / "w.duckdb", tmp_path / "truth")
    assert m.error == "exit code 1"
    assert "unknown step no_such_step" in m.detail["stderr"]
    text = bench.report([m], "test")
    assert "| no such step | 10 |" in text and "| FAILED: exit code 1 |" in text
    assert "ValueError: unknown step no_such_step" in text  # the stderr tail


def test_run_capped_kills_a_child_that_ignores_sigterm_after_the_grace_period() -> None:
    code = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + HOLD.format(mib=128)
    out = memcap.run_capped([sys.executable, "-c", code], 0.1, interval=0.1, grace=1.0)
    assert out.over_cap and out.returncode == -signal.SIGKILL
    assert out.stopped_bytes >= 0.1 * 2**30
    assert 1.0 <= out.seconds < 8
