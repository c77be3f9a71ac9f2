"""Running dbt (in-process) and sqlfluff for the CLI, and summarising what was built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mailroom import PROJECT_DIR
from mailroom.warehouse import connect, table_counts, warehouse_path

console = Console()
SUMMARY_SCHEMAS = ("raw", "staging", "intermediate", "marts")


@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    status: str
    message: str | None
    seconds: float


@dataclass
class BuildResult:
    success: bool
    nodes: list[NodeResult] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    @property
    def by_status(self) -> Counter:
        return Counter((n.resource_type, n.status) for n in self.nodes)


def dbt_env(target: str = "dev") -> None:
    """Point dbt at this project and an absolute warehouse path."""
    os.environ["WAREHOUSE_PATH"] = str(warehouse_path().resolve())
    os.environ.setdefault("DBT_PROFILES_DIR", str(PROJECT_DIR))
    os.environ["DBT_TARGET"] = target
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def world_vars(target: str = "dev") -> dict[str, str]:
    """dbt vars implied by the warehouse: a sample world's as-of date, if any."""
    if target == "snowflake" or not warehouse_path().exists():
        return {}
    from mailroom.generator import read_world_metadata

    with connect() as con:
        meta = read_world_metadata(con)
    return {"as_of_date": meta["as_of"]} if "as_of" in meta else {}


def invoke_dbt(args: list[str], target: str = "dev", extra_vars: dict | None = None):
    """Run one dbt command in-process; returns dbt's `dbtRunnerResult`."""
    from dbt.cli.main import dbtRunner

    dbt_env(target)
    variables = {**world_vars(target), **(extra_vars or {})}
    cli = [
        *args,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        os.environ["DBT_PROFILES_DIR"],
        "--target",
        target,
    ]
    if variables:
        cli += ["--vars", json.dumps(variables)]
    return dbtRunner().invoke(cli)


def dbt_build(
    select: str | None = None,
    target: str = "dev",
    full_refresh: bool = False,
    extra_vars: dict | None = None,
) -> BuildResult:
    args = ["build"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    res = invoke_dbt(args, target=target, extra_vars=extra_vars)
    out = BuildResult(success=bool(res.success))
    if res.exception is not None:
        out.error = str(res.exception)
    if res.result is not None and hasattr(res.result, "results"):
        out.seconds = float(getattr(res.result, "elapsed_time", 0.0) or 0.0)
        for r in res.result.results:
            out.nodes.append(
                NodeResult(
                    unique_id=r.node.unique_id,
                    resource_type=r.node.resource_type,
                    status=str(r.status),
                    message=r.message,
                    seconds=float(r.execution_time or 0.0),
                )
            )
    return out


def print_counts(title: str, counts: dict[str, int]) -> None:
    table = Table(title=title)
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)


def print_build_summary(result: BuildResult) -> None:
    table = Table(title=f"dbt build ({result.seconds:.1f}s)")
    for col in ("resource", "status", "count"):
        table.add_column(col)
    for (rtype, status), n in sorted(result.by_status.items()):
        table.add_row(str(rtype), status, str(n))
    console.print(table)
    problems = [n for n in result.nodes if n.status not in ("success", "pass")]
    for n in problems:
        console.print(f"[yellow]{n.status}[/yellow] {n.unique_id}: {n.message}")
    if result.error:
        console.print(f"[red]dbt failed:[/red] {result.error}")
    if warehouse_path().exists():
        print_warehouse_summary()


def print_warehouse_summary() -> None:
    # Not read-only: dbt-duckdb keeps its own read-write handle open in this process.
    with connect() as con:
        for schema in SUMMARY_SCHEMAS:
            counts = {
                name: n
                for name, n in table_counts(con, schema).items()
                if not name.startswith("base_") and name != "world_metadata"
            }
            if counts:
                print_counts(f"schema {schema}", counts)
        print_reconciliation(con)


def print_reconciliation(con) -> None:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'marts' and table_name = 'rpt_source_reconciliation'"
    ).fetchone()[0]
    if not exists:
        return
    raw, staged, quarantined, dupes, unbalanced = con.execute(
        "select sum(raw_rows), sum(staged_rows), sum(quarantined_rows), sum(collapsed_duplicates), "
        "count(*) filter (where not is_balanced) from marts.rpt_source_reconciliation"
    ).fetchone()
    console.print(
        f"raw rows {raw:,} = staged {staged:,} + quarantined {quarantined:,} "
        f"+ duplicates collapsed {dupes:,}"
        + ("" if not unbalanced else f"  [red]{unbalanced} tables do not balance[/red]")
    )
    reasons = con.execute(
        " union all ".join(
            f"select source_table, quarantine_reason from staging.stg_{s}__quarantined_rows"
            for s in ("crm", "shop", "web", "esp", "privacy")
        ).join(
            [
                "select quarantine_reason, count(*) as n from (",
                ") group by 1 order by 2 desc limit 6",
            ]
        )
    ).fetchall()
    if reasons:
        console.print("top quarantine reasons: " + ", ".join(f"{r} {n:,}" for r, n in reasons))


def sqlfluff_lint(paths: list[str] | None = None) -> int:
    """Lint SQL with sqlfluff's dbt templater; returns the exit code."""
    dbt_env("ci")
    os.environ["WAREHOUSE_PATH"] = str((PROJECT_DIR / "target" / "sqlfluff.duckdb").resolve())
    (PROJECT_DIR / "target").mkdir(exist_ok=True)
    targets = paths or ["models", "macros", "analyses", "tests/dbt"]
    targets = [t for t in targets if (PROJECT_DIR / t).exists()]
    cmd = [sys.executable, "-m", "sqlfluff", "lint", *targets, "--processes", "2"]
    return subprocess.call(cmd, cwd=PROJECT_DIR)


def default_warehouse() -> Path:
    return warehouse_path()
