"""Benchmarks: wall time and peak memory of generating and building worlds of given sizes.

Each measured step runs in its own child process, so its peak resident memory
(ru_maxrss of the child, DuckDB included) is its own. Results are printed and
written as a Markdown report.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mailroom import PROJECT_DIR

CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
step, people, warehouse, truth = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.environ["WAREHOUSE_PATH"] = warehouse
t0 = time.perf_counter()
extra = {}
if step == "generate":
    from mailroom.generator import WorldConfig, generate_world
    stats = generate_world(WorldConfig(people=people), warehouse=Path(warehouse), truth_dir=Path(truth))
    extra["raw_rows"] = sum(stats.raw_counts.values())
else:
    from mailroom import runner
    res = runner.dbt_build(target="dev", full_refresh=True)
    extra["success"] = res.success
    extra["nodes"] = len(res.nodes)
    by_stage = {}
    for n in res.nodes:
        name = n.unique_id.split(".")[2]
        stage = (
            "tests" if n.resource_type in ("test", "unit_test")
            else "identity" if name.startswith(("int_identity__", "bdg_", "rpt_identity"))
            else "staging" if name.startswith(("stg_", "base_"))
            else "segments" if name.startswith(("int_segments__", "dim_segments", "fct_segment", "segment_history", "fct_customer_clusters", "dim_customer_clusters"))
            else "customers" if n.resource_type == "model" and name.startswith(("int_customers__", "dim_customers", "fct_"))
            else n.resource_type if n.resource_type != "model" else "other models"
        )
        by_stage[stage] = round(by_stage.get(stage, 0.0) + n.seconds, 1)
    extra["seconds_by_stage"] = by_stage
    if res.success and (Path(truth) / "source_records.parquet").exists():
        from mailroom.identity_score import score_identity
        score = score_identity(Path(warehouse), Path(truth))
        for key, fig in (("all", score.all_records), ("identifiable", score.identifiable)):
            extra[f"identity_{key}"] = f"P={fig.precision:.4f} R={fig.recall:.4f} F1={fig.f1:.4f}"
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, **extra}))
"""


@dataclass
class Measurement:
    step: str
    people: int
    seconds: float
    peak_mb: float
    detail: dict


def measure(step: str, people: int, warehouse: Path, truth: Path) -> Measurement:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(people), str(warehouse), str(truth)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{step} at {people:,} people failed:\n{out.stderr[-3000:]}")
    data = json.loads(lines[-1])
    seconds, peak = data.pop("seconds"), data.pop("peak_mb")
    return Measurement(step=step, people=people, seconds=seconds, peak_mb=peak, detail=data)


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {platform.system()} {platform.machine()}, Python {platform.python_version()}"


def report(results: list[Measurement], command: str) -> str:
    lines = [
        "# Benchmark report",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "| step | people | wall time (s) | peak memory (MiB) | detail |",
        "|---|---:|---:|---:|---|",
    ]
    for m in results:
        detail = ", ".join(
            f"{k}={v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={v}"
            for k, v in m.detail.items()
            if k != "seconds_by_stage"
        )
        if "seconds_by_stage" in m.detail:
            detail += "; " + ", ".join(
                f"{k} {v:.0f}s" for k, v in sorted(m.detail["seconds_by_stage"].items())
            )
        lines.append(
            f"| {m.step} | {m.people:,} | {m.seconds:,.1f} | {m.peak_mb:,.0f} | {detail} |"
        )
    return "\n".join(lines) + "\n"


def run(
    sizes: list[int], build: bool, work_dir: Path, report_path: Path, command: str
) -> list[Measurement]:
    from rich.console import Console

    console = Console()
    results = []
    for people in sizes:
        wh, truth = work_dir / f"bench_{people}.duckdb", work_dir / f"truth_{people}"
        steps = ["generate", "build"] if build else ["generate"]
        for step in steps:
            with console.status(f"{step} {people:,} people"):
                t0 = time.perf_counter()
                m = measure(step, people, wh, truth)
            console.print(
                f"{step:9s} {people:>10,} people  {m.seconds:8.1f}s  peak {m.peak_mb:8.0f} MiB  ({time.perf_counter() - t0:.0f}s)"
            )
            results.append(m)
        wh.unlink(missing_ok=True)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(report(results, command))
    (report_path.with_suffix(".json")).write_text(
        json.dumps([asdict(r) for r in results], indent=2)
    )
    console.print(f"report written to {report_path}")
    return results


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
