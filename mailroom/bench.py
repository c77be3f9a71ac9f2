"""Benchmarks: generate worlds, build them in full, run a day incrementally, score what was built.

For each world size the benchmark
1. generates the world, with its last day of loads held back (`generate --pending-days 1`)
   when the incremental step follows;
2. builds it in full (`mailroom build --full-refresh --train`: a first build trains);
3. lands the held-back day (`mailroom land`) and runs a routine incremental build
   (`mailroom build`: incremental base models, no retraining);
4. lands five minutes of traffic and runs a trigger batch (`mailroom trigger`,
   file destination), twice: the first batch after a routine build also
   re-parses the files that read the trigger lane's mode, the second is the
   steady state;
5. scores what was built against the truth (identity, propensity, customer value)
   and, when the serving layer is installed, load-tests the profile API.

Every step runs in a child process of its own, in its own process group, under
a hard cap on the resident memory of its process tree (`mailroom.memcap`): a step
that overruns is stopped and fails alone, the world's later steps (which depend
on it) are skipped, and the report keeps what was measured. A step's peak
resident memory is the larger of the polled tree RSS and the child's ru_maxrss
(DuckDB included). The child's DuckDB memory_limit is half the cap unless
MAILROOM_DUCKDB_MEMORY_LIMIT is set. dbt's node timings give
the time per stage: the wall time during which a node of the stage was
running (the union of its nodes' intervals; the two threads overlap stages,
so stage times can add up to more than the build). The report is Markdown,
with the raw figures beside it as JSON.
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mailroom import PROJECT_DIR, memcap
from mailroom.stages import STAGES, stage_times

FULL_BUILD_TARGET_SECONDS = {1_000_000: 600}
INCREMENTAL_TARGET_SECONDS = {1_000_000: 90}
TRIGGER_TARGET_SECONDS = {1_000_000: 30}  # a steady-state trigger batch, landing to ESP-ready rows
TRIGGER_MINUTES = 5  # traffic landed before each trigger batch
# The event tables a trigger batch reads, with their keys.
TRIGGER_TABLES = {
    "web_events": "event_id",
    "shop_orders": "order_id",
    "esp_email_events": "event_id",
    "esp_subscribers": "subscriber_id",
    "privacy_consent_events": "consent_event_id",
}
MAX_GROWTH = 12.0  # the 1M build may take at most this many times the 100k build
STEP_LABELS = {
    "generate_held_back": "generate (last day held back)",
    "trigger_batches": f"trigger batches (2, {TRIGGER_MINUTES} min of traffic each)",
}
DEFAULT_MEMORY_CAP_GIB = 16.0
HOLD_MEMORY_MIB = 256  # what the `hold_memory` self-test step holds


class BenchFailed(RuntimeError):
    """A step failed or was stopped over the memory cap; the report was still written."""


@dataclass
class Measurement:
    step: str
    people: int
    seconds: float
    peak_mb: float
    detail: dict = field(default_factory=dict)
    error: str = ""  # why the step failed ("stopped at ... > cap ...", "exit code 1"); "" if ok


def run_step(step: str, people: int, warehouse: Path, truth: Path, target_path: Path) -> dict:
    """One benchmark step, in this process (the child); returns its figures."""
    if step == "hold_memory":
        hold_memory()
    os.environ["WAREHOUSE_PATH"] = str(warehouse)
    os.environ["DBT_TARGET_PATH"] = str(target_path)
    os.environ["DBT_LOG_PATH"] = str(target_path / "logs")
    import duckdb

    from mailroom import runner
    from mailroom.generator import WorldConfig, generate_world, pending

    out: dict = {}
    if step in ("generate", "generate_held_back"):
        stats = generate_world(WorldConfig(people=people), warehouse=warehouse, truth_dir=truth)
        held = {}
        if step == "generate_held_back":
            with duckdb.connect(str(warehouse)) as con:
                held = pending.hold_back(con, 1)
        out["raw_rows"] = sum(stats.raw_counts.values()) - sum(held.values())
        out["held_back_rows"] = sum(held.values())
    elif step == "land":
        with duckdb.connect(str(warehouse)) as con:
            out["landed_rows"] = sum(pending.land(con, 1).values())
    elif step in ("full_build", "incremental_build"):
        full = step == "full_build"
        t0 = time.perf_counter()
        res = runner.dbt_build(target="dev", full_refresh=full, train=full)
        out["dbt_seconds"] = round(time.perf_counter() - t0, 1)
        out["success"] = res.success
        out["nodes"] = len(res.nodes)
        failed = [n.unique_id for n in res.nodes if n.status in ("error", "fail")]
        if failed or not res.success:
            out["failed"] = failed[:10] or [res.error]
        run_results = json.loads((target_path / "run_results.json").read_text())
        manifest = json.loads((target_path / "manifest.json").read_text())
        out["stages"] = stage_times(run_results, manifest)
        with duckdb.connect(str(warehouse)) as con:
            out["raw_rows"] = sum(
                con.execute(f'select count(*) from raw."{t}"').fetchone()[0]
                for (t,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = 'raw' "
                    "and table_name <> 'world_metadata'"
                ).fetchall()
            )
    elif step == "trigger_batches":
        out.update(trigger_batches(warehouse, target_path))
    elif step == "quality":
        out.update(quality(warehouse, truth))
    else:
        raise ValueError(f"unknown step {step}")
    return out


def land_recent_minutes(con, minutes: int, tag: str) -> int:
    """Land `minutes` of traffic: for each event table a trigger batch reads, a
    deterministic sample of minutes/1440 of the rows it landed in its last 24
    hours, again as new rows (keys suffixed `-tag`, event times kept) loaded one
    second after everything loaded so far. Returns the rows landed."""
    newest = con.execute(
        "select max(_loaded_at) from ("
        + " union all ".join(f"select _loaded_at from raw.{t}" for t in TRIGGER_TABLES)
        + ")"
    ).fetchone()[0]
    if newest is None:
        return 0
    landed = 0
    for table, key in TRIGGER_TABLES.items():
        last_day = f"_loaded_at > (select max(_loaded_at) from raw.{table}) - interval 1 day"
        [(day_rows,)] = con.execute(f"select count(*) from raw.{table} where {last_day}").fetchall()
        take = math.ceil(day_rows * minutes / 1440)
        con.execute(
            f"insert into raw.{table} select * replace ({key} || '-{tag}' as {key}, "
            f"cast(? as timestamp) + interval 1 second as _loaded_at) "
            f"from raw.{table} where {last_day} order by md5({key} || '{tag}') limit {take}",
            [newest],
        )
        landed += take
    return landed


def trigger_batches(warehouse: Path, target_path: Path) -> dict:
    """Two trigger batches, each after TRIGGER_MINUTES of traffic landed; their figures."""
    import duckdb

    from mailroom import trigger as lane
    from mailroom.sync.config import FileSettings, SyncConfig

    cfg = SyncConfig(
        destination="file",
        warehouse=warehouse,
        file=FileSettings(output_dir=target_path / "trigger_sync"),
    ).validate()
    batches = []
    for tag in ("t1", "t2"):
        with duckdb.connect(str(warehouse)) as con:
            landed = land_recent_minutes(con, TRIGGER_MINUTES, tag)
        report = lane.run_batch(cfg, target="dev")
        batches.append(
            {
                "landed_rows": landed,
                "seconds": round(report.seconds, 1),
                "build_seconds": round(report.build_seconds, 1),
                "sync_seconds": round(report.sync_seconds, 1),
                "signals": report.signals,
                "touched_persons": report.touched_persons,
                "status": report.status,
            }
        )
    return {
        "batches": batches,
        "success": all(b["status"] == "succeeded" for b in batches),
        "raw_rows": batches[-1]["landed_rows"],
    }


def hold_memory(mib: int = HOLD_MEMORY_MIB, seconds: float = 60.0) -> None:
    """Self-test of the memory cap (step `hold_memory`): hold `mib` MiB resident until stopped.

    Under a cap below that the parent stops it within a poll interval, however slow
    the machine; should the cap not act, it fails after `seconds` with its own message.
    """
    block = b"\x01" * (mib * 2**20)  # written, so resident
    time.sleep(seconds)
    raise SystemExit(f"hold_memory held {len(block) >> 20} MiB for {seconds:g} s: not stopped")


def quality(warehouse: Path, truth: Path) -> dict:
    """Identity, propensity and customer-value figures against the truth; API load figures."""
    import duckdb

    from mailroom import identity_score, propensity_score, value_score

    out: dict = {}
    score = identity_score.score_identity(warehouse, truth)
    for key, fig in (("all", score.all_records), ("identifiable", score.identifiable)):
        out[f"identity_{key}"] = {
            "precision": round(fig.precision, 4),
            "recall": round(fig.recall, 4),
            "f1": round(fig.f1, 4),
        }
    with duckdb.connect(str(warehouse)) as con:
        p = propensity_score.score_propensity(con, truth, ceilings=False)
        out["purchase_roc_auc"] = round(p.model_roc_auc, 4)
        out["purchase_oracle_roc_auc"] = round(p.oracle_roc_auc, 4)
        out["purchase_recency_roc_auc"] = round(p.recency_roc_auc, 4)
        out["churn_roc_auc"] = round(p.churn_roc_auc, 4)
        v = value_score.score_customer_value(con, truth)
        out["value_orders_error"] = round(v.orders_relative_error, 4)
        out["value_revenue_error"] = round(v.revenue_relative_error, 4)
    out["api"] = api_load(warehouse, warehouse.parent / f"serving_{warehouse.stem}")
    return out


def api_load(warehouse: Path, serving_dir: Path, seconds: float = 30.0) -> dict:
    """Publish a serving snapshot of the built warehouse and load-test the profile API on it."""
    from mailroom.serve import loadtest
    from mailroom.serve.snapshot import publish_snapshot

    t0 = time.perf_counter()
    publish_snapshot(warehouse, serving_dir)
    publish_seconds = time.perf_counter() - t0
    result = loadtest.run_load_test(serving_dir=serving_dir, clients=16, duration=seconds)
    return {
        "snapshot_seconds": round(publish_seconds, 1),
        "rps": round(result.requests_per_second, 1),
        "p50_ms": result.latency_ms.get("p50", 0.0),
        "p90_ms": result.latency_ms.get("p90", 0.0),
        "p99_ms": result.latency_ms.get("p99", 0.0),
        "errors": result.errors,
        "requests": result.requests,
        "server_cpu_ms_per_request": result.server_cpu_ms_per_request,
    }


def measure(
    step: str,
    people: int,
    warehouse: Path,
    truth: Path,
    memory_cap_gib: float = DEFAULT_MEMORY_CAP_GIB,
) -> Measurement:
    """Run one step in a child process under the memory cap; a failure is a Measurement too."""
    target_path = warehouse.parent / f"target_{people}"
    cmd = [sys.executable, "-m", "mailroom.bench", step, str(people), str(warehouse), str(truth)]
    cmd.append(str(target_path))
    out = memcap.run_capped(cmd, memory_cap_gib, cwd=PROJECT_DIR)
    peak = out.peak_bytes / 2**20
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    error = ""
    if out.over_cap:
        error = (
            f"stopped at {out.stopped_bytes / memcap.GIB:.1f} GiB resident "
            f"> cap {memory_cap_gib:g} GiB"
        )
    elif out.returncode != 0:
        error = f"exit code {out.returncode}"
    elif not lines:
        error = "printed no figures"
    if error:
        detail = {"stderr": out.stderr[-3000:]} if out.stderr.strip() else {}
        return Measurement(step, people, out.seconds, peak, detail, error=error)
    data = json.loads(lines[-1])
    peak = max(peak, data.pop("peak_mb"))
    return Measurement(step=step, people=people, seconds=out.seconds, peak_mb=peak, detail=data)


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}"
    )


def _find(results: list[Measurement], step: str, people: int) -> Measurement | None:
    return next((m for m in results if m.step == step and m.people == people), None)


def report(
    results: list[Measurement], command: str, memory_cap_gib: float = DEFAULT_MEMORY_CAP_GIB
) -> str:
    sizes = sorted({m.people for m in results})
    duckdb_limit = os.environ.get(memcap.DUCKDB_LIMIT_VAR) or memcap.duckdb_limit(memory_cap_gib)
    lines = [
        "# Benchmark report",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        "Each step ran in its own process, alone on the machine, under a cap of "
        f"{memory_cap_gib:g} GiB on the resident memory of its process tree (polled every "
        f"{memcap.POLL_SECONDS:g} s; DuckDB memory_limit {duckdb_limit}); peak memory is the "
        "larger of the polled peak and the process's own maximum resident set. Full "
        "build: a fresh "
        "warehouse, `mailroom build --full-refresh --train`. Incremental: one more day "
        "of loads landed (`mailroom land`), then a routine `mailroom build` (incremental "
        "base models, no retraining). Stage times are wall seconds during which a node "
        "of the stage ran (dbt runs 2 threads, so stages overlap); tests count with the "
        "stage of the model they test.",
        "",
        "| step | people | wall time (s) | peak resident memory (MiB) | raw rows | rows/s "
        "| nodes | result |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    landed = {m.people: m.detail.get("landed_rows", 0) for m in results if m.step == "land"}
    for m in results:
        if m.step in ("quality", "land") and not m.error:
            continue
        rows = m.detail.get("raw_rows")
        if m.step == "incremental_build":
            rows = landed.get(m.people, 0)
        rows_cells = (
            ["", ""] if m.error or rows is None else [f"{rows:,}", f"{rows / m.seconds:,.0f}"]
        )
        result = ""
        if m.error:
            result = f"FAILED: {m.error}"
        elif "success" in m.detail:
            result = "ok" if m.detail["success"] and not m.detail.get("failed") else "FAILED"
        lines.append(
            f"| {_label(m.step)} | {m.people:,} | {m.seconds:,.1f} | {m.peak_mb:,.0f} "
            f"| {' | '.join(rows_cells)} | {m.detail.get('nodes', '')} | {result} |"
        )
    failures = [m for m in results if m.error]
    if failures:
        lines += ["", "## Failed steps (the later steps of their world were not run)", ""]
        for m in failures:
            lines.append(
                f"- {_label(m.step)} at {m.people:,} people, after {m.seconds:,.1f} s "
                f"(peak {m.peak_mb:,.0f} MiB): {m.error}"
            )
            if m.detail.get("stderr"):
                tail = "\n".join(m.detail["stderr"].rstrip().splitlines()[-15:])
                lines += ["", "```", tail, "```", ""]
    lines += ["", "## Time per stage (wall seconds; node seconds summed over threads)", ""]
    header = "| stage | " + " | ".join(
        f"{s.split('_')[0]} {p:,}" for p in sizes for s in ("full_build", "incremental_build")
    )
    lines += [header + " |", "|---|" + "---:|" * (2 * len(sizes))]
    for stage in STAGES:
        cells = []
        for people in sizes:
            for step in ("full_build", "incremental_build"):
                m = _find(results, step, people)
                fig = (m.detail.get("stages", {}) if m else {}).get(stage)
                cells.append(
                    f"{fig['wall_seconds']:,.0f} ({fig['node_seconds']:,.0f})" if fig else ""
                )
        if any(cells):
            lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines += ["", "## Targets", ""]
    small, large = (min(sizes), max(sizes)) if len(sizes) > 1 else (None, None)
    if small and large:
        a, b = _find(results, "full_build", small), _find(results, "full_build", large)
        if a and b:
            ratio = b.seconds / a.seconds
            allowed = MAX_GROWTH * large / small / 10
            lines.append(
                f"- Full build {large:,} vs {small:,} people: {ratio:.1f}x the time for "
                f"{large / small:.0f}x the people (allowed: {allowed:.0f}x): "
                + ("met" if ratio <= allowed else "missed")
            )
    for people in sizes:
        for step, targets in (
            ("full_build", FULL_BUILD_TARGET_SECONDS),
            ("incremental_build", INCREMENTAL_TARGET_SECONDS),
        ):
            m = _find(results, step, people)
            if m and people in targets:
                verdict = "met" if m.seconds <= targets[people] else "missed"
                lines.append(
                    f"- {step.replace('_', ' ')} at {people:,} people: {m.seconds:,.0f} s "
                    f"(target {targets[people]} s): {verdict}"
                )
    for people in sizes:
        m = _find(results, "trigger_batches", people)
        if m and m.detail.get("batches"):
            first, steady = m.detail["batches"][0], m.detail["batches"][-1]
            target = TRIGGER_TARGET_SECONDS.get(people)
            verdict = (
                f" (target {target} s): " + ("met" if steady["seconds"] <= target else "missed")
                if target
                else ""
            )
            lines.append(
                f"- trigger batch at {people:,} people, landing to ESP-ready rows: "
                f"{steady['seconds']:,.1f} s (build {steady['build_seconds']:,.1f} s, sync "
                f"{steady['sync_seconds']:,.1f} s; {steady['landed_rows']:,} rows landed, "
                f"{steady['signals']:,} signals, {steady['touched_persons']:,} persons)"
                f"{verdict}; the first batch after the routine build, which also re-parses "
                f"what reads the trigger lane's mode: {first['seconds']:,.1f} s"
            )
    quality_rows = [m for m in results if m.step == "quality"]
    if quality_rows:
        lines += ["", "## Quality of what was built (after the incremental run)", ""]
        for m in quality_rows:
            lines.append(f"- {m.people:,} people: " + _quality_text(m.detail))
    return "\n".join(lines) + "\n"


def _label(step: str) -> str:
    return STEP_LABELS.get(step, step.replace("_", " "))


def _quality_text(d: dict) -> str:
    parts = []
    for key in ("identity_all", "identity_identifiable"):
        if key in d:
            f = d[key]
            parts.append(
                f"identity ({key.split('_')[1]}) P {f['precision']:.4f} R {f['recall']:.4f} "
                f"F1 {f['f1']:.4f}"
            )
    if "purchase_roc_auc" in d:
        parts.append(
            f"purchase ROC-AUC {d['purchase_roc_auc']:.4f} (oracle {d['purchase_oracle_roc_auc']:.4f}, "
            f"recency {d['purchase_recency_roc_auc']:.4f}), churn {d['churn_roc_auc']:.4f}"
        )
    if "value_orders_error" in d:
        parts.append(
            f"customer value vs truth: orders {d['value_orders_error']:+.1%}, "
            f"revenue {d['value_revenue_error']:+.1%}"
        )
    if "api" in d:
        a = d["api"]
        parts.append(
            f"profile API (16 clients, 30 s, 1 worker) {a['rps']:,.0f} requests/s, "
            f"p50 {a['p50_ms']:.1f} ms, p99 {a['p99_ms']:.1f} ms, {a['errors']} errors "
            f"(snapshot published in {a['snapshot_seconds']:.0f} s)"
        )
    return "; ".join(parts)


def world_steps(build: bool = True, incremental: bool = True, score: bool = True) -> list[str]:
    """The steps run for each world size, in order; each depends on the ones before."""
    steps = ["generate_held_back" if build and incremental else "generate"]
    if build:
        steps.append("full_build")
        if incremental:
            steps += ["land", "incremental_build", "trigger_batches"]
        if score:
            steps.append("quality")
    return steps


def run(
    sizes: list[int],
    work_dir: Path,
    report_path: Path,
    command: str,
    incremental: bool = True,
    score: bool = True,
    build: bool = True,
    memory_cap_gib: float = DEFAULT_MEMORY_CAP_GIB,
    keep: bool = False,
) -> list[Measurement]:
    """Measure every world size; raises BenchFailed at the end if any step failed.

    A failed step (over the memory cap or otherwise) ends its world; the next
    size still runs. The report is rewritten after every step. A world's
    warehouse is deleted after its steps unless `keep`.
    """
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    results: list[Measurement] = []
    work_dir.mkdir(parents=True, exist_ok=True)
    for people in sizes:
        wh, truth = work_dir / f"bench_{people}.duckdb", work_dir / f"truth_{people}"
        wh.unlink(missing_ok=True)
        Path(f"{wh}.wal").unlink(missing_ok=True)
        steps = world_steps(build=build, incremental=incremental, score=score)
        for i, step in enumerate(steps):
            with console.status(f"{step} {people:,} people"):
                m = measure(step, people, wh, truth, memory_cap_gib)
            console.print(
                f"{step:18s} {people:>10,} people  {m.seconds:8.1f}s  peak {m.peak_mb:8.0f} MiB"
            )
            if m.detail.get("failed"):
                console.print(f"[red]failed:[/red] {m.detail['failed']}")
            results.append(m)
            report_path.parent.mkdir(parents=True, exist_ok=True)
            report_path.write_text(report(results, command, memory_cap_gib))
            report_path.with_suffix(".json").write_text(
                json.dumps([asdict(r) for r in results], indent=2)
            )
            if m.error:
                console.print(f"[red]{step} at {people:,} people FAILED:[/red] {escape(m.error)}")
                if m.detail.get("stderr"):
                    console.print(escape(m.detail["stderr"].rstrip()), highlight=False)
                if steps[i + 1 :]:
                    console.print(f"not run for {people:,} people: {', '.join(steps[i + 1 :])}")
                break
        if keep:
            console.print(f"kept {wh}")
        else:
            wh.unlink(missing_ok=True)
    console.print(f"report written to {report_path}")
    failed = [m for m in results if m.error]
    if failed:
        raise BenchFailed(
            "; ".join(f"{m.step} at {m.people:,} people {m.error}" for m in failed)
            + f" (report: {report_path})"
        )
    return results


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    step_name, n, warehouse_arg, truth_arg, target_arg = sys.argv[1:6]
    figures = run_step(step_name, int(n), Path(warehouse_arg), Path(truth_arg), Path(target_arg))
    print(json.dumps({**figures, "peak_mb": peak_rss_mb()}))
