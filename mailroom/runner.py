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


def target_dir() -> Path:
    """dbt's target folder: $DBT_TARGET_PATH (absolute, or relative to the project), else target/."""
    path = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return path if path.is_absolute() else PROJECT_DIR / path


def log_dir() -> Path:
    """dbt's log folder: $DBT_LOG_PATH (absolute, or relative to the project), else logs/."""
    path = Path(os.environ.get("DBT_LOG_PATH", "logs"))
    return path if path.is_absolute() else PROJECT_DIR / path


def world_vars(target: str = "dev") -> dict[str, str]:
    """dbt vars implied by the warehouse: its data's as-of date, if it has one."""
    if target == "snowflake" or not warehouse_path().exists():
        return {}
    from mailroom.warehouse import read_metadata

    with connect() as con:
        meta = read_metadata(con)
    return {"as_of_date": meta["as_of"]} if "as_of" in meta else {}


def build_vars(target: str = "dev", extra_vars: dict | None = None) -> dict:
    """The dbt vars a build runs with: the warehouse's own, then mailroom.yml, then `extra_vars`."""
    from mailroom.settings import settings_vars

    return {**world_vars(target), **settings_vars(), **(extra_vars or {})}


def project_var(name: str):
    """A var's default in dbt_project.yml."""
    import yaml

    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"][name]


def invoke_dbt(
    args: list[str],
    target: str = "dev",
    extra_vars: dict | None = None,
    project_dir: Path | None = None,
    callbacks: list | None = None,
    quiet: bool = False,
):
    """Run one dbt command in-process; returns dbt's `dbtRunnerResult`.

    `project_dir` runs another copy of the project (tests that edit seeds); its
    target and logs stay in that folder. `callbacks` receive every dbt event;
    `quiet` keeps all but errors off the terminal (the log file keeps them).
    """
    from dbt.cli.main import dbtRunner

    dbt_env(target)
    variables = build_vars(target, extra_vars)
    cli = [
        *(["--quiet"] if quiet else []),
        *args,
        "--project-dir",
        str(project_dir or PROJECT_DIR),
        "--profiles-dir",
        os.environ["DBT_PROFILES_DIR"],
        "--target",
        target,
    ]
    if variables:
        cli += ["--vars", json.dumps(variables)]
    if project_dir is not None:
        cli += [
            "--target-path",
            str(project_dir / "target"),
            "--log-path",
            str(project_dir / "logs"),
        ]
    manifest = None
    if args[0] in REUSES_MANIFEST and target != "snowflake":
        key = _manifest_key(project_dir or PROJECT_DIR, target, variables)
        manifest = _MANIFESTS.pop(key, None)
        if manifest is None:
            common = cli[cli.index(args[0]) + len(args) :]
            parsed = dbtRunner().invoke([*(["--quiet"] if quiet else []), "parse", *common])
            if not parsed.success:
                return parsed
            manifest = parsed.result
        else:
            # a compiled node keeps "its CTEs are injected": the next compile
            # would skip injecting them (ephemeral models; none today)
            for node in manifest.nodes.values():
                if getattr(node, "extra_ctes_injected", False):
                    node.extra_ctes_injected = False
                    node.extra_ctes = []
        _MANIFESTS[key] = manifest  # the most recent last
        while len(_MANIFESTS) > KEPT_MANIFESTS:
            _MANIFESTS.pop(next(iter(_MANIFESTS)))
    return dbtRunner(manifest=manifest, callbacks=callbacks or []).invoke(cli)


# Commands that run against a parsed project: in one process they share the
# manifest of the same project files, vars, target and warehouse name.
REUSES_MANIFEST = ("build", "run", "test", "seed", "snapshot", "compile")
PROJECT_PARTS = ("models", "python_models", "macros", "seeds", "snapshots", "analyses", "tests/dbt")
PROJECT_FILES = ("dbt_project.yml", "selectors.yml", "profiles.yml")
# The trigger lane's mode (macro is_trigger_batch; set by mailroom.trigger): it
# decides materializations when dbt parses, so it is part of a manifest's key.
TRIGGER_MODE_VARIABLE = "MAILROOM_TRIGGER_BATCH"
KEPT_MANIFESTS = 4  # a manifest holds tens of MB; a test worker alternates between a few
_MANIFESTS: dict[tuple, object] = {}


def _manifest_key(project_dir: Path, target: str, variables: dict) -> tuple:
    """What a parse depends on. dbt parses again whenever the profile changes, and
    the warehouse's file path is in the profile, so every warehouse file cost a
    full parse (5 to 10 s); the path only names the database (its stem), so the
    stem stands for it here. The project's files are fingerprinted by size and
    modification time: an edited model or seed is parsed again."""
    files = [project_dir / name for name in PROJECT_FILES]
    for part in PROJECT_PARTS:
        files.extend(sorted((project_dir / part).rglob("*")))
    stamps = tuple(
        (str(f), st.st_mtime_ns, st.st_size) for f in files if f.is_file() and (st := f.stat())
    )
    stem = warehouse_path().stem if target != "snowflake" else ""
    mode = os.environ.get(TRIGGER_MODE_VARIABLE, "")
    return (str(project_dir), target, json.dumps(variables, sort_keys=True), stem, stamps, mode)


TRAINING_TAG = "training"


def needs_training(target: str = "dev") -> bool:
    """Whether a build must train: no promoted model version in the registry yet.

    Routine builds score with the promoted versions and leave the training
    models (tag `training`) as the last training run built them; a warehouse
    without a registry (a first build) has nothing to score with, so it trains.
    A model that could not be trained (its labels have one outcome only) does
    not make every routine build retrain: it waits for the scheduled
    `--train`, and scoring leaves it out meanwhile.
    On Snowflake the registry is not inspected: builds there train unless told not to.
    """
    if target == "snowflake":
        return True
    if not warehouse_path().exists():
        return True
    with connect() as con:
        if not _has_table(con, "intermediate", "int_propensity__model_versions"):
            return True
        promoted = con.execute(
            "select count(*) from intermediate.int_propensity__model_versions where is_promoted"
        ).fetchone()[0]
    return promoted == 0


def dbt_build(
    select: str | None = None,
    target: str = "dev",
    full_refresh: bool = False,
    extra_vars: dict | None = None,
    indirect_selection: str | None = None,
    project_dir: Path | None = None,
    train: bool = True,
    exclude: str | None = None,
    progress=None,
    selector: str | None = None,
) -> BuildResult:
    """`dbt build`; `train=False` is a routine run (everything but tag:training).

    `progress` (a `mailroom.build_progress.BuildProgress`) replaces dbt's node
    log on the terminal; without it dbt prints its own.
    """
    args = ["build"]
    if select:
        args += ["--select", select]
    if selector:
        args += ["--selector", selector]
    excluded = " ".join(x for x in (exclude, None if train else f"tag:{TRAINING_TAG}") if x)
    if excluded:
        args += ["--exclude", excluded]
    if indirect_selection:
        # "cautious": only tests whose every parent is selected
        args += ["--indirect-selection", indirect_selection]
    if full_refresh:
        args.append("--full-refresh")
    res = invoke_dbt(
        args,
        target=target,
        extra_vars=extra_vars,
        project_dir=project_dir,
        callbacks=[progress] if progress is not None else None,
        quiet=progress is not None,
    )
    if progress is not None:
        progress.finish()
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


def print_build_summary(
    result: BuildResult, variables: dict | None = None, brief: bool = False
) -> None:
    table = Table(title=f"dbt build ({result.seconds:.1f}s)")
    for col in ("resource", "status", "count"):
        table.add_column(col)
    for (rtype, status), n in sorted(result.by_status.items()):
        table.add_row(str(rtype), status, str(n))
    console.print(table)
    problems = [
        n
        for n in result.nodes
        if n.status not in ("success", "pass")
        # exposures are documentation: dbt reports them as no-op
        and not (n.status == "no-op" and n.resource_type == "exposure")
    ]
    for n in problems:
        console.print(f"[yellow]{n.status}[/yellow] {n.unique_id}: {n.message}")
    if result.error:
        console.print(f"[red]dbt failed:[/red] {result.error}")
    if warehouse_path().exists():
        print_warehouse_summary(variables, brief=brief)


# What the summary's headline counts: (label, mart, what counts as one). The first
# five must not be empty when the raw data has people (rpt_pipeline_guards says why);
# the ESP profiles are empty for a shop without e-mail addresses.
HEADLINE = (
    ("persons", "dim_customers", "count(*)"),
    ("persons with features", "int_customers__features", "count(*)"),
    ("segment memberships", "fct_segment_memberships", "count(*)"),
    ("persons scored", "fct_propensity_scores", "count(distinct person_id)"),
    ("persons valued", "fct_customer_value", "count(*)"),
    ("profiles for the ESP", "sync_esp__profiles", "count(*)"),
)
NEVER_EMPTY = 5
HEADLINE_SCHEMAS = {"int_customers__features": "intermediate"}


def headline(con) -> dict[str, int | None]:
    """The summary's headline counts; None where the mart has not been built."""
    out: dict[str, int | None] = {}
    for label, table, measure in HEADLINE:
        schema = HEADLINE_SCHEMAS.get(table, "marts")
        out[label] = (
            con.execute(f"select {measure} from {schema}.{table}").fetchone()[0]
            if _has_table(con, schema, table)
            else None
        )
    return out


def print_warehouse_summary(variables: dict | None = None, brief: bool = False) -> None:
    """What the warehouse holds; `variables`: the vars it was built with (default: the
    ones a build would use now). `brief` (after a build, to fit one screen): the
    headline, the guards, reconciliation and identity, without the row counts of
    every table and the customer, model, activation and campaign sections."""
    if variables is None:
        variables = build_vars()
    if variables:
        console.print("vars: " + ", ".join(f"{k}={v}" for k, v in sorted(variables.items())))
    # Not read-only: dbt-duckdb keeps its own read-write handle open in this process.
    with connect() as con:
        for schema in () if brief else SUMMARY_SCHEMAS:
            counts = {
                name: n
                for name, n in table_counts(con, schema).items()
                if not name.startswith("base_") and name != "world_metadata"
            }
            if counts:
                print_counts(f"schema {schema}", counts)
        figures = headline(con)
        if all(v is None for v in figures.values()):
            console.print("nothing built yet: run `mailroom build`")
            return
        console.print(
            "; ".join(
                f"{label} {'not built' if n is None else f'{n:,}'}" for label, n in figures.items()
            )
        )
        empty = [label for label, n in list(figures.items())[:NEVER_EMPTY] if n == 0]
        if empty:
            console.print(f"[red]empty:[/red] {', '.join(empty)}")
        print_guards(con)
        sections = (print_reconciliation, print_identity)
        if not brief:
            sections += (print_customers, print_models, print_activation, print_campaigns)
        for section in sections:
            section(con)
        if brief:
            console.print(
                "segments, models, audiences, campaigns and every table's rows: `mailroom summary`"
            )


def print_guards(con) -> None:
    """Why a stage came out empty although the raw data has people (rpt_pipeline_guards)."""
    if not _has_table(con, "marts", "rpt_pipeline_guards"):
        return
    for guard, reason in con.execute(
        "select guard_name, reason from marts.rpt_pipeline_guards where status = 'fail' "
        "order by guard_order"
    ).fetchall():
        console.print(f"[red]{guard}:[/red] {reason}")


def _rows(con, schema: str, table: str) -> int:
    """Rows of a table; 0 when it does not exist."""
    if not _has_table(con, schema, table):
        return 0
    return con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]


def _has_table(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _has_column(con, schema: str, table: str, column: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = ? and table_name = ? and column_name = ?",
            [schema, table, column],
        ).fetchone()[0]
    )


def print_customers(con) -> None:
    """Lifecycle, contactability, segments and learned clusters of dim_customers."""
    if not _rows(con, "marts", "dim_customers") or not _has_table(con, "marts", "dim_segments"):
        return
    print("\ncustomers by lifecycle stage (contactable by e-mail)")
    rows = con.execute(
        "select lifecycle_stage, count(*), count(*) filter (where is_email_contactable), "
        "round(sum(revenue), 0) from marts.dim_customers group by 1 order by 2 desc"
    ).fetchall()
    for stage, n, contactable, revenue in rows:
        print(f"  {stage:<12}{n:>10,}{contactable:>10,} contactable   revenue {revenue:>14,.0f}")
    print("\nsegments (members, primary members, share of persons)")
    for seg, members, primary, share in con.execute(
        "select segment_id, member_count, primary_member_count, member_share "
        "from marts.dim_segments order by priority"
    ).fetchall():
        print(f"  {seg:<22}{members:>10,}{primary:>10,}{share:>9.1%}")
    if _has_table(con, "marts", "dim_customer_clusters"):
        rows = con.execute(
            "select cluster_label, member_count, silhouette_score "
            "from marts.dim_customer_clusters order by member_count desc"
        ).fetchall()
        if rows and rows[0][2] is not None:
            print(f"\nlearned clusters (k = {len(rows)}, silhouette {rows[0][2]:.3f})")
            for label, members, _ in rows:
                print(f"  {label:<32}{members:>10,}")


def print_models(con) -> None:
    """Champion propensity models, their tiers, and the customer-value totals."""
    if not _rows(con, "marts", "dim_model_versions"):
        return
    print("\npropensity champions (ROC-AUC on the validation date; recency x frequency baseline)")
    # a registry trained before the small-data flag has no such column
    reason = (
        "small_data_reason"
        if _has_column(con, "marts", "dim_model_versions", "small_data_reason")
        else "null"
    )
    for name, version, auc, base, rows, small_data in con.execute(
        "select model_name, model_version, roc_auc, baseline_roc_auc, validation_rows, "
        f"{reason} from marts.dim_model_versions where is_champion order by 1"
    ).fetchall():
        print(
            f"  {name:<10}{version:<40}{_num(auc, '8.4f')}{_num(base, '8.4f')}  "
            f"({rows or 0:,} validation rows)"
        )
        if small_data:
            print(f"  {'':<10}small data: {small_data}")
    if _has_table(con, "marts", "fct_propensity_scores"):
        for name, tier, n, mean in con.execute(
            "select model_name, tier, count(*), avg(score) from marts.fct_propensity_scores "
            "group by 1, 2 order by 1, 4 desc"
        ).fetchall():
            print(f"  {name:<10}{tier:<10}{n:>10,}  mean score {mean:.3f}")
    if _rows(con, "marts", "fct_customer_value"):
        orders, revenue, flagged = con.execute(
            "select sum(expected_orders), sum(expected_revenue), "
            "count(*) filter (where has_insufficient_history) from marts.fct_customer_value"
        ).fetchone()
        print(
            f"\ncustomer value, next 365 days: {orders:,.0f} orders, revenue {revenue:,.0f} "
            f"({flagged:,} persons with insufficient history get population figures)"
        )


def print_activation(con) -> None:
    """Audiences (members, holdout, sent), recommendation quality and the sync marts."""
    if not _rows(con, "marts", "fct_audience_memberships"):
        return
    print("\naudiences (members, holdout, sent to the ESP)")
    for audience, members, holdout, sendable in con.execute(
        "select audience_id, count(*), count(*) filter (where is_holdout), "
        "count(*) filter (where is_sendable) from marts.fct_audience_memberships "
        "group by 1 order by 2 desc"
    ).fetchall():
        print(f"  {audience:<22}{members:>10,}{holdout:>10,}{sendable:>10,}")
    if _has_table(con, "marts", "rpt_recommendation_evaluation"):
        rows = con.execute(
            "select recommendation_method, top_k, hit_rate, ndcg, evaluated_people "
            "from marts.rpt_recommendation_evaluation where is_list_length "
            "order by recommendation_method"
        ).fetchall()
        if rows:
            print(f"\nrecommendations, offline evaluation at k = {rows[0][1]} (hit rate, NDCG)")
            for method, _, hit, ndcg, people in rows:
                print(
                    f"  {method:<12}{_num(hit, '8.4f')}{_num(ndcg, '8.4f')}  ({people or 0:,} people)"
                )
    if _has_table(con, "marts", "sync_esp__profiles"):
        counts = {
            table: con.execute(f"select count(*) from marts.{table}").fetchone()[0]
            for table in (
                "sync_esp__profiles",
                "sync_esp__audience_memberships",
                "sync_esp__deletions",
            )
        }
        print_counts("sync marts (what the ESP should hold)", counts)


def print_campaigns(con, truth_dir: Path = Path("data/truth")) -> None:
    """Campaigns measured, the pooled lift against the holdouts, machine opens; the truth if there."""
    if not _has_table(con, "marts", "fct_campaign_results"):
        return
    from mailroom import campaign_score

    results = campaign_score.read_results(con)
    if results.empty:
        return
    treated = results[~results["is_holdout"].astype(bool)]
    opens = int(treated["open_events"].sum())
    machine = int(treated["machine_open_events"].sum())
    with_holdout = results.loc[results["is_holdout"].astype(bool), "campaign_id"].nunique()
    beating = results.loc[
        results["is_significant"].fillna(False).astype(bool) & (results["conversion_lift"] > 0),
        "campaign_id",
    ].nunique()
    print(
        f"\ncampaigns measured: {results['campaign_id'].nunique()} ({with_holdout} with a holdout, "
        f"{beating} beating it significantly); machine opens {machine:,} of {opens:,} open events"
        + (f" ({machine / opens:.1%})" if opens else "")
    )
    pooled = campaign_score.pooled_lift(results)
    if pooled is None:
        return
    pct = f"{pooled.confidence_level:.0%}"
    print(
        f"  pooled conversion lift {pooled.conversion_lift:+.4f} ({pct} interval "
        f"{pooled.conversion_lift_ci_low:+.4f} to {pooled.conversion_lift_ci_high:+.4f}; "
        f"treated {pooled.treated_conversion_rate:.4f} vs holdout {pooled.holdout_conversion_rate:.4f}), "
        f"revenue per recipient {pooled.revenue_per_recipient_lift:+.3f} "
        f"({pooled.revenue_per_recipient_lift_ci_low:+.3f} to {pooled.revenue_per_recipient_lift_ci_high:+.3f})"
    )
    if _truth_matches_world(con, truth_dir) and (truth_dir / "campaign_effects.parquet").exists():
        score = campaign_score.score(results, truth_dir)
        print(
            f"  true pooled effect {score.true_pooled_conversion_lift:+.4f} "
            f"({'inside' if score.pooled_covers_truth else 'outside'} the interval), "
            f"revenue per recipient {score.true_pooled_revenue_per_recipient_lift:+.3f}"
        )


def _num(value, spec: str) -> str:
    """`value` formatted with `spec`, or a dash of the same width when it is missing."""
    if value is None:
        width = int(spec.split(".")[0] or 0)
        return "-".rjust(width)
    return format(value, spec)


def release_warehouse() -> None:
    """Close the DuckDB file that in-process dbt runs keep open.

    dbt-duckdb holds one read-write handle per process after `dbt build`;
    while it does, no other process (`mf`, a browser's generator, another
    reader) and no read-only connection in this one can open the file. The
    next dbt run opens it again.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # no dbt-duckdb: nothing to release
        return
    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def run_analysis(name: str, target: str = "dev") -> list[tuple[list[str], list[tuple]]]:
    """Compile one dbt analysis and run it on the DuckDB warehouse: (columns, rows)."""
    res = invoke_dbt(["compile", "--select", name, "--log-level", "none"], target=target)
    if not res.success:
        raise RuntimeError(f"dbt compile of analysis {name} failed: {res.exception}")
    compiled = res.result.results[0].node.compiled_code
    with connect() as con:
        cur = con.execute(compiled)
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()


def print_reconciliation(con) -> None:
    if not _rows(con, "marts", "rpt_source_reconciliation"):
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


def print_identity(con, truth_dir: Path = Path("data/truth")) -> None:
    """Persons resolved, links by rule, refusals; scored against the truth when it is there."""
    if not _rows(con, "marts", "rpt_identity_quality"):
        return
    rows = con.execute("select section, item, value from marts.rpt_identity_quality").fetchall()
    figures: dict[str, dict[str, int]] = {}
    for section, item, value in rows:
        figures.setdefault(section, {})[item] = int(value or 0)
    records = sum(figures.get("records", {}).values())
    persons = figures.get("persons", {}).get("persons", 0)
    largest = figures.get("largest_cluster", {}).get("records", 0)
    links = ", ".join(f"{k} {v:,}" for k, v in sorted(figures.get("links_by_rule", {}).items()))
    refused = ", ".join(
        f"{k} {v:,}" for k, v in sorted(figures.get("refused_by_reason", {}).items())
    )
    console.print(
        f"identity: {records:,} source records -> {persons:,} persons (largest {largest}); "
        f"links: {links or 'none'}; refused links: {refused or 'none'}"
    )
    if _truth_matches_world(con, truth_dir):
        from mailroom.identity_score import score_with

        score = score_with(con, truth_dir)
        for label, fig in (
            ("all records", score.all_records),
            ("identifiable", score.identifiable),
        ):
            console.print(
                f"identity vs truth ({label}): precision {fig.precision:.4f}, "
                f"recall {fig.recall:.4f}, F1 {fig.f1:.4f}"
            )


def _truth_matches_world(con, truth_dir: Path) -> bool:
    """The truth folder was written with the sample world this warehouse holds."""
    from mailroom.warehouse import read_metadata

    meta_file = truth_dir / "world.json"
    if not (truth_dir / "source_records.parquet").exists() or not meta_file.exists():
        return False
    return read_metadata(con) == json.loads(meta_file.read_text())


def sqlfluff_lint(paths: list[str] | None = None, processes: int = 2) -> int:
    """Lint SQL with sqlfluff's dbt templater; returns the exit code."""
    dbt_env("ci")
    os.environ["WAREHOUSE_PATH"] = str((PROJECT_DIR / "target" / "sqlfluff.duckdb").resolve())
    (PROJECT_DIR / "target").mkdir(exist_ok=True)
    targets = paths or ["models", "python_models", "macros", "analyses", "tests/dbt"]
    targets = [t for t in targets if (PROJECT_DIR / t).exists()]
    cmd = [sys.executable, "-m", "sqlfluff", "lint", *targets, "--processes", str(processes)]
    proc = subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    # sqlfluff skips a file dbt cannot compile and still exits 0: that is a failure here.
    skipped = [line for line in (proc.stdout + proc.stderr).splitlines() if "Skipped file" in line]
    if skipped and proc.returncode == 0:
        sys.stderr.write(f"{len(skipped)} file(s) were not linted (see 'Skipped file' above)\n")
        return 1
    return proc.returncode


def default_warehouse() -> Path:
    return warehouse_path()
