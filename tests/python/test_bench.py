"""The benchmark's bookkeeping: stage times from dbt's artifacts and the report's verdicts.

The benchmark itself is a command (`make bench`), not a test; these check
the arithmetic and the wording it reports with, on made-up figures.
"""

from __future__ import annotations

from mailroom import bench
from mailroom.bench import Measurement


def test_union_seconds_counts_overlaps_once() -> None:
    assert bench.union_seconds([]) == 0.0
    assert bench.union_seconds([(0, 10), (5, 12), (20, 25), (21, 22)]) == 17.0


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
    stages = bench.stage_times(run_results, manifest)
    assert stages["staging"] == {"wall_seconds": 15.0, "node_seconds": 20.0, "nodes": 2}
    assert stages["training"] == {"wall_seconds": 30.0, "node_seconds": 30.0, "nodes": 1}
    assert set(stages) == {"staging", "training"}


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
