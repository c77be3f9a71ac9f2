"""The `mailroom` command line: one tool for the whole job.

Run `mailroom --help` for the list of commands and `mailroom COMMAND --help`
for each command's options.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from mailroom import loader, runner

app = typer.Typer(
    help=(
        "Warehouse-native e-mail personalization. Generate or load raw data, build the "
        "dbt project on DuckDB (or Snowflake), and inspect what was built."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("load")(loader.load_command)


@app.command()
def generate(
    people: int = typer.Option(
        50_000, "--people", "-n", min=10, help="Number of simulated people."
    ),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same world."),
    as_of: dt.date = typer.Option(
        "2026-09-30",
        formats=["%Y-%m-%d"],
        help="Last day of history; the truth covers what follows.",
    ),
    history_days: int = typer.Option(730, min=60, help="Days of history before the as-of date."),
    warehouse: Path | None = typer.Option(None, help="DuckDB file (default: $WAREHOUSE_PATH)."),
    truth_dir: Path = typer.Option(Path("data/truth"), help="Where the ground truth is written."),
    chunk_size: int = typer.Option(
        25_000, min=100, help="People simulated per chunk (bounds memory)."
    ),
) -> None:
    """Simulate a retailer and write every raw source into the `raw` schema, plus the truth."""
    from mailroom.generator import WorldConfig, generate_world

    cfg = WorldConfig(
        people=people, seed=seed, as_of=as_of, history_days=history_days, chunk_size=chunk_size
    )
    stats = generate_world(cfg, warehouse=warehouse, truth_dir=truth_dir, progress=True)
    runner.print_counts("raw tables written", stats.raw_counts)
    typer.echo(f"truth written to {truth_dir}/ in {stats.seconds:.1f}s")


@app.command()
def build(
    select: str | None = typer.Option(None, "--select", "-s", help="dbt selector."),
    target: str = typer.Option("dev", help="profiles.yml target (dev, ci, snowflake)."),
    full_refresh: bool = typer.Option(False, help="Rebuild incremental models from scratch."),
) -> None:
    """Run `dbt seed` + `dbt build` with the sample world's as-of date, and summarise."""
    result = runner.dbt_build(select=select, target=target, full_refresh=full_refresh)
    runner.print_build_summary(result)
    if not result.success:
        raise typer.Exit(1)


@app.command()
def demo(
    people: int = typer.Option(
        50_000, "--people", "-n", min=10, help="Number of simulated people."
    ),
    seed: int = typer.Option(42, help="Random seed."),
) -> None:
    """The main job end to end: generate the sample world, `dbt build`, print a summary,
    and export what the ESP should receive as CSV files (`sync --destination file`)."""
    generate(
        people=people,
        seed=seed,
        as_of=dt.date(2026, 9, 30),
        history_days=730,
        warehouse=None,
        truth_dir=Path("data/truth"),
        chunk_size=25_000,
    )
    build(select=None, target="dev", full_refresh=True)
    typer.echo("\nexporting the sync marts for the ESP (mailroom sync --destination file)")
    sync(
        destination="file",
        dry_run=False,
        max_delete_share=None,
        file_format="csv",
        output_dir=Path("data/sync"),
        config=None,
        warehouse=None,
        verbose=False,
    )


@app.command("lint-sql")
def lint_sql(
    paths: list[str] = typer.Argument(
        None, help="Files or folders (default: models, macros, analyses, tests/dbt)."
    ),
) -> None:
    """Lint the project's SQL with sqlfluff (dbt templater, DuckDB dialect)."""
    raise typer.Exit(runner.sqlfluff_lint(paths or None))


@app.command()
def bench(
    people: list[int] = typer.Option(
        [50_000, 1_000_000], "--people", "-n", help="World sizes (repeatable)."
    ),
    build: bool = typer.Option(True, help="Also time a full `dbt build` of each world."),
    work_dir: Path = typer.Option(
        Path("data/bench"), help="Scratch folder for the benchmark warehouses."
    ),
    report: Path = typer.Option(Path("bench/REPORT.md"), help="Markdown report to write."),
) -> None:
    """Time generation and `dbt build` per world size, with peak memory; write a Markdown report."""
    from mailroom import bench as bench_mod

    sizes = " ".join(f"-n {p}" for p in people)
    command = f"mailroom bench {sizes}" + ("" if build else " --no-build")
    bench_mod.run(people, build, work_dir, report, command)


@app.command("check-snowflake")
def check_snowflake(
    work_dir: Path = typer.Option(
        Path("target/fakesnow"), help="Where dbt writes its target and logs."
    ),
) -> None:
    """Build every SQL model on the `snowflake` target without an account (fakesnow), on a copy of the raw data."""
    from mailroom.portability import build_on_fake_snowflake

    wh = runner.default_warehouse()
    as_of = runner.world_vars().get("as_of_date")
    result = build_on_fake_snowflake(wh if wh.exists() else None, work_dir, as_of_date=as_of)
    failed = {
        k: v
        for k, v in result.statuses.items()
        if v not in ("success", "pass", "success (emulated)")
    }
    for node, status in failed.items():
        typer.echo(f"{status}: {node}")
    for node, errors in result.parse_errors.items():
        typer.echo(f"snowflake parse error in {node}: {errors[:3]}")
    typer.echo(
        f"{len(result.statuses)} nodes, {len(failed)} not passing, {len(result.parse_errors)} parse errors"
    )
    if not result.success:
        raise typer.Exit(1)


@app.command("score-identity")
def score_identity(
    truth_dir: Path = typer.Option(Path("data/truth"), help="The sample world's truth folder."),
    rebuild: bool = typer.Option(
        True, help="Rebuild the identity models and their tests first, and time them."
    ),
    report: Path | None = typer.Option(
        Path("bench/IDENTITY.md"), help="Markdown report to update (one section per world size)."
    ),
) -> None:
    """Score identity resolution against the generator's truth: pairwise precision, recall and F1, cluster figures, time."""
    from mailroom import identity_score
    from mailroom.generator import read_world_metadata
    from mailroom.warehouse import connect

    seconds = None
    if rebuild:
        result = runner.dbt_build(
            select="identity_blocklist identity_survivorship int_identity__records+",
            indirect_selection="cautious",
        )
        if not result.success:
            runner.print_build_summary(result)
            raise typer.Exit(1)
        seconds = result.seconds
    with connect() as con:
        people = read_world_metadata(con).get("people", "?")
        score = identity_score.score_with(con, truth_dir)
    command = "mailroom score-identity" + ("" if rebuild else " --no-rebuild")
    text = identity_score.markdown(score, f"{int(people):,} people", command, seconds)
    typer.echo(text)
    if report is not None:
        identity_score.update_report(report, text)
        typer.echo(f"report: {report}")


@app.command("score-models")
def score_models(
    truth_dir: Path = typer.Option(Path("data/truth"), help="The sample world's truth folder."),
    report: Path | None = typer.Option(Path("bench/MODELS.md"), help="Markdown report to write."),
) -> None:
    """Score the built propensity and customer-value models against the generator's truth.

    Purchase ROC-AUC against who really bought in the next 30 days, next to the
    oracle (the true probabilities), the recency baseline and the ceiling of the
    features; churn ROC-AUC; predicted 365-day orders and revenue against the
    truth, in total and per decile. Reads the warehouse as built (`mailroom build`).
    """
    import warnings

    from mailroom import propensity_score, value_score
    from mailroom.generator import read_world_metadata
    from mailroom.warehouse import connect

    warnings.filterwarnings("ignore")
    with connect() as con:
        people = int(read_world_metadata(con).get("people", 0))
        heading = f"{people:,} people (`mailroom score-models`)"
        text = propensity_score.markdown(propensity_score.score_propensity(con, truth_dir), heading)
        value = value_score.score_customer_value(con, truth_dir)
        text += "\n" + value_score.markdown(value, f"Customer value, {people:,} people")
    typer.echo(text)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("# Propensity and customer value against the truth\n\n" + text)
        typer.echo(f"report: {report}")


@app.command("segment-overlap")
def segment_overlap(
    top: int = typer.Option(20, help="Pairs to print, most overlapping (Jaccard) first."),
) -> None:
    """Print the segment overlap audit (analyses/segment_overlap.sql) of the warehouse."""
    columns, rows = runner.run_analysis("segment_overlap")
    if not rows:
        typer.echo("No two segments share a member.")
        return
    typer.echo(
        f"{'segment':<20}{'other segment':<20}{'shared':>9}{'jaccard':>9}"
        f"{'% of seg':>10}{'% of other':>11}"
    )
    for row in rows[:top]:
        r = dict(zip(columns, row, strict=True))
        typer.echo(
            f"{r['segment_id']:<20}{r['other_segment_id']:<20}{r['shared_member_count']:>9,}"
            f"{r['jaccard']:>9.3f}{r['share_of_segment']:>10.1%}{r['share_of_other_segment']:>11.1%}"
        )


@app.command()
def sync(
    destination: str = typer.Option(
        ..., "--destination", "-d", help="Where to send: klaviyo, mailchimp or file."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report creates, updates, removes and deletes; send nothing."
    ),
    max_delete_share: float | None = typer.Option(
        None,
        min=0.0,
        max=1.0,
        help="Refuse the run when a stream's removals exceed this share of the keys the "
        "destination holds (default 0.2). Erasures are legally required: never blocked.",
    ),
    file_format: str | None = typer.Option(
        None, "--format", help="File destination: csv or jsonl (default csv)."
    ),
    output_dir: Path | None = typer.Option(
        None, help="File destination: folder for the files (default data/sync)."
    ),
    config: Path | None = typer.Option(
        None, help="sync.yml to read (default: sync.yml in the project root, if any)."
    ),
    warehouse: Path | None = typer.Option(None, help="DuckDB file (default: $WAREHOUSE_PATH)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every committed batch."),
) -> None:
    """Sync the sync marts to the ESP: only what changed since the last acknowledged sync.

    Reads marts.sync_esp__profiles, sync_esp__audience_memberships and
    sync_esp__deletions; keeps its bookkeeping (hashes only, no addresses) in
    schema sync_state. New rows are created, changed rows updated, rows that
    left the profiles mart removed (Klaviyo: suppressed, Mailchimp: archived),
    deletions rows permanently erased, once. Rate limits, Retry-After, 5xx and
    timeouts are retried with backoff; a rejected record is isolated and marked
    invalid; failed rows are retried next run.

    Keys and URLs come from the environment: KLAVIYO_API_KEY,
    MAILROOM_KLAVIYO_BASE_URL, MAILROOM_KLAVIYO_LIST_ID; MAILCHIMP_API_KEY,
    MAILCHIMP_LIST_ID, MAILROOM_MAILCHIMP_BASE_URL. Everything else can be set
    in sync.yml (see the mailroom.sync module docstring for every key).

    Exit codes: 0 done; 1 operations failed (retried next run) or the
    destination refused the key; 3 refused by the mass-delete guard.
    """
    import logging

    from mailroom.sync import ConfigError, load_config, run_sync
    from mailroom.sync.report import print_report

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    # httpx logs every URL at INFO, and Mailchimp's URLs hold the MD5 of the address.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        cfg = load_config(
            config,
            destination=destination,
            max_delete_share=max_delete_share,
            warehouse=warehouse,
            **{"file.format": file_format, "file.output_dir": output_dir},
        )
    except ConfigError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = run_sync(cfg, dry_run=dry_run)
    print_report(report)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


@app.command()
def dashboard(
    output: Path = typer.Option(
        Path("data/dashboard/index.html"), "--output", "-o", help="HTML file to write."
    ),
    warehouse: Path | None = typer.Option(None, help="DuckDB file (default: $WAREHOUSE_PATH)."),
) -> None:
    """Write the marketing dashboard: one self-contained HTML file (plotly inlined, opens offline).

    Headline KPIs (customers, contactable audience, revenue, orders, as-of date),
    segment sizes and transitions, propensity scores, tiers and model quality,
    audiences (members, holdout, sendable), campaign lift (marts.fct_campaign_results)
    and data quality (reconciliation, quarantine reasons, identity). Reads the
    marts read-only; aggregates only, no personal data. A section whose marts
    are missing or empty says so and the page still renders.
    """
    from mailroom.dashboard import build_dashboard

    try:
        result = build_dashboard(warehouse=warehouse, output=output)
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"dashboard written to {result.output} ({result.size_bytes / 1e6:.1f} MB, "
        f"{len(result.charts)} charts, as of {result.as_of or 'unknown'}) in {result.seconds:.1f}s"
    )
    if result.panels_without_data:
        typer.echo("panels without data: " + ", ".join(result.panels_without_data))
    for section, error in result.errors.items():
        typer.echo(f"section {section} could not be read: {error}", err=True)


@app.command()
def summary() -> None:
    """Print row counts of the raw, staging and marts schemas of the warehouse."""
    runner.print_warehouse_summary()


if __name__ == "__main__":
    app()
