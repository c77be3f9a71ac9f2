"""The `mailroom` command line: one tool for the whole job.

Run `mailroom --help` for the list of commands and `mailroom COMMAND --help`
for each command's options.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from mailroom import jobs, loader, runner

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
_DEMO_AS_OF = jobs.DEMO_AS_OF.isoformat()


# Options several commands share (`sync` and `trigger` most: a batch runs the same sync):
# one definition each.
Destination = Annotated[
    str,
    typer.Option("--destination", "-d", help="Where to send: klaviyo, mailchimp or file."),
]
MaxDeleteShare = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        max=1.0,
        help="Refuse the run when a stream's removals exceed this share of the keys the "
        "destination holds (default 0.2). Erasures are legally required: never blocked.",
    ),
]
FileFormat = Annotated[
    str | None, typer.Option("--format", help="File destination: csv or jsonl (default csv).")
]
OutputDir = Annotated[
    Path | None, typer.Option(help="File destination: folder for the files (default data/sync).")
]
SyncYaml = Annotated[
    Path | None,
    typer.Option(help="sync.yml to read (default: sync.yml in the project root, if any)."),
]
Warehouse = Annotated[Path | None, typer.Option(help="DuckDB file (default: $WAREHOUSE_PATH).")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log every committed batch.")]


def _run(job, *args, **kwargs):
    """Run a job; a JobError becomes its message on stderr and the job's exit code."""
    try:
        return job(*args, **kwargs)
    except jobs.JobError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def _parse_vars(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE pairs as dbt vars; VALUE is read as YAML (numbers, booleans, lists)."""
    import yaml

    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--var")
        parsed = yaml.safe_load(value) if value.strip() else None
        # YAML reads 2026-01-31 as a date; dbt vars travel as JSON, so keep its text.
        out[key.strip()] = parsed.isoformat() if isinstance(parsed, dt.date) else parsed
    return out


@app.command()
def generate(
    people: int = typer.Option(
        50_000, "--people", "-n", min=10, help="Number of simulated people."
    ),
    seed: int = typer.Option(42, help="Random seed: the same seed gives the same world."),
    as_of: dt.datetime = typer.Option(
        _DEMO_AS_OF,
        formats=["%Y-%m-%d"],
        help="Last day of history; the truth covers what follows.",
    ),
    history_days: int = typer.Option(
        jobs.DEMO_HISTORY_DAYS, min=60, help="Days of history before the as-of date."
    ),
    warehouse: Warehouse = None,
    truth_dir: Path = typer.Option(Path("data/truth"), help="Where the ground truth is written."),
    chunk_size: int = typer.Option(
        25_000, min=100, help="People simulated per chunk (bounds memory)."
    ),
    pending_days: int = typer.Option(
        0,
        min=0,
        help="Hold back what the loader landed in the last N days (schema raw_pending) and "
        "move the world's as-of date back N days; `mailroom land` brings them in a day at a time.",
    ),
) -> None:
    """Simulate a retailer and write every raw source into the `raw` schema, plus the truth."""
    _run(
        jobs.generate,
        people=people,
        seed=seed,
        as_of=as_of.date(),
        history_days=history_days,
        warehouse=warehouse,
        truth_dir=truth_dir,
        chunk_size=chunk_size,
        pending_days=pending_days,
    )


@app.command()
def land(
    days: int = typer.Option(1, min=1, help="Days of held-back loads to land."),
    warehouse: Warehouse = None,
) -> None:
    """Land the next day(s) of a sample world's held-back loads (`generate --pending-days`) into `raw`.

    What arrives is what the loader landed that day: new events, late events
    of earlier days, re-deliveries and new versions of records. The world's
    as-of date moves forward with it; then `mailroom build` runs incrementally.
    """
    _run(jobs.land, days=days, warehouse=warehouse)


@app.command()
def build(
    select: str | None = typer.Option(None, "--select", "-s", help="dbt selector."),
    target: str = typer.Option("dev", help="profiles.yml target (dev, ci, snowflake)."),
    full_refresh: bool = typer.Option(False, help="Rebuild incremental models from scratch."),
    train: bool | None = typer.Option(
        None,
        "--train/--no-train",
        help="Retrain the propensity models (feature history, examples, registry). Default: "
        "only when the registry has no promoted version yet; otherwise a routine run scores "
        "with the promoted versions.",
    ),
    as_of: dt.datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="The day the build stands on (dbt var as_of_date): scores, segments and "
        "features as known at its end. Default: the warehouse's own as-of date, else today.",
    ),
    var: list[str] = typer.Option(
        [],
        "--var",
        help="A dbt var as KEY=VALUE (repeatable), e.g. --var purchase_horizon_days=90.",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Stream dbt's line per node instead of the progress bar."
    ),
) -> None:
    """Run `dbt build`, and summarise what was built.

    A routine build (the default once models are trained) rebuilds everything
    but the training models (dbt tag `training`, selectors.yml `routine`):
    the incremental base models take only what was loaded since the last
    run, and scoring uses the promoted model versions. Schedule `--train`
    (weekly, monthly) to retrain.
    """
    _run(
        jobs.build,
        select=select,
        target=target,
        full_refresh=full_refresh,
        train=train,
        as_of=as_of.date() if as_of else None,
        variables=_parse_vars(var),
        verbose=verbose,
    )


@app.command()
def demo(
    people: int = typer.Option(
        50_000, "--people", "-n", min=10, help="Number of simulated people."
    ),
    seed: int = typer.Option(42, help="Random seed."),
    data_dir: Path = typer.Option(
        Path("data"), help="Folder for the truth, sync files, serving snapshot and dashboard."
    ),
) -> None:
    """The main job end to end: generate the sample world, `dbt build`, print a summary,
    export what the ESP should receive as CSV files (`sync --destination file`),
    publish the profile API's serving snapshot (`snapshot`) and write the marketing
    dashboard (`dashboard`). The warehouse is $WAREHOUSE_PATH."""
    _run(jobs.demo, people=people, seed=seed, data_dir=data_dir)


@app.command()
def backtest(
    as_of: dt.datetime | None = typer.Option(
        None,
        "--as-of",
        formats=["%Y-%m-%d"],
        help="The day to stand on: everything after it is hidden from the build. Default: "
        "the horizon before the data's last day.",
    ),
    horizon: int | None = typer.Option(
        None,
        "--horizon",
        min=1,
        help="Days after --as-of whose purchases are predicted. Default: the dbt var "
        "purchase_horizon_days (30).",
    ),
    output_dir: Path = typer.Option(
        Path("data/backtest"), help="Folder for the report (.md, .json) and the scratch warehouse."
    ),
    resamples: int = typer.Option(
        200, min=0, help="Bootstrap resamples for the intervals (0: none)."
    ),
) -> None:
    """How good the models would have been on your own history.

    Copies the raw tables of $WAREHOUSE_PATH into a scratch warehouse, builds
    and trains there as of --as-of (nothing after it is seen), and compares
    the propensity champion, the customer-value model and a recency baseline
    with the purchases of the next --horizon days: ROC-AUC, PR-AUC, top-decile
    lift, share of buyers in the top 20%, predicted against actual counts,
    with bootstrap intervals. Your warehouse is not changed.
    """
    _run(
        jobs.backtest,
        as_of=as_of.date() if as_of else None,
        horizon_days=horizon,
        output_dir=output_dir,
        resamples=resamples,
    )


@app.command()
def docs() -> None:
    """Write the dbt docs site of the warehouse: target/static_index.html, one file
    to open in a browser (the DAG, every model's columns and tests, the overview)."""
    _run(jobs.docs)


@app.command("lint-sql")
def lint_sql(
    paths: list[str] = typer.Argument(
        None, help="Files or folders (default: models, macros, analyses, tests/dbt)."
    ),
    processes: int = typer.Option(2, min=1, help="sqlfluff processes (one per core)."),
) -> None:
    """Lint the project's SQL with sqlfluff (dbt templater, DuckDB dialect)."""
    raise typer.Exit(runner.sqlfluff_lint(paths or None, processes=processes))


@app.command()
def bench(
    people: list[int] = typer.Option(
        [100_000, 1_000_000], "--people", "-n", help="World sizes (repeatable)."
    ),
    build: bool = typer.Option(True, help="Build the worlds (--no-build: generation only)."),
    incremental: bool = typer.Option(
        True, help="After the full build, land one more day and time a routine incremental build."
    ),
    score: bool = typer.Option(
        True, help="Score identity, models and the profile API after the builds."
    ),
    work_dir: Path = typer.Option(
        Path("data/bench"), help="Scratch folder for the benchmark warehouses."
    ),
    report: Path = typer.Option(Path("bench/REPORT.md"), help="Markdown report to write."),
    keep: bool = typer.Option(
        False,
        "--keep",
        help="Keep each world's warehouse in --work-dir afterwards (to profile it; "
        "a million people take tens of GB).",
    ),
    memory_cap: float = typer.Option(
        16.0,
        "--memory-cap",
        min=0.01,
        metavar="GIB",
        help="Hard cap on each step's resident memory (its whole process tree), in GiB; "
        "DuckDB gets half unless MAILROOM_DUCKDB_MEMORY_LIMIT is set.",
    ),
) -> None:
    """Time generation, a full build and a one-day incremental build per world size.

    Reports wall time per stage (staging, identity, features, training, scoring,
    activation), total wall time, peak resident memory and rows per second, then
    the identity, model and API figures of what was built; writes a Markdown
    report (and its figures as JSON beside it). Each step runs alone in its own
    process group, polled every half second: past --memory-cap it is stopped
    (SIGTERM, then SIGKILL), the rest of that world is skipped, the report keeps
    what was measured and the command exits non-zero.
    """
    from mailroom import bench as bench_mod

    sizes = " ".join(f"-n {p}" for p in people)
    flags = "".join(
        f" --no-{name}"
        for name, on in (("build", build), ("incremental", incremental), ("score", score))
        if not on
    )
    if memory_cap != bench_mod.DEFAULT_MEMORY_CAP_GIB:
        flags += f" --memory-cap {memory_cap:g}"
    try:
        bench_mod.run(
            people,
            work_dir,
            report,
            f"mailroom bench {sizes}{flags}",
            incremental=incremental,
            score=score,
            build=build,
            memory_cap_gib=memory_cap,
            keep=keep,
        )
    except bench_mod.BenchFailed as e:
        typer.secho(f"bench failed: {e}", fg="red", err=True)
        raise typer.Exit(1) from None


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


@app.command("score-campaigns")
def score_campaigns(
    truth_dir: Path = typer.Option(Path("data/truth"), help="The sample world's truth folder."),
    report: Path | None = typer.Option(
        Path("bench/CAMPAIGNS.md"), help="Markdown report to write."
    ),
) -> None:
    """Score the built campaign results (marts.fct_campaign_results) against the truth.

    The pooled conversion and revenue-per-recipient lifts of every campaign
    with a holdout (Mantel-Haenszel) with their intervals, next to the true
    effects in truth_dir/campaign_effects.parquet; how many variant intervals
    cover their true effect; significant campaigns; the machine-open share.
    """
    from mailroom import campaign_score
    from mailroom.generator import read_world_metadata
    from mailroom.warehouse import connect

    with connect() as con:
        people = int(read_world_metadata(con).get("people", 0))
        results = campaign_score.read_results(con)
    score = campaign_score.score(results, truth_dir)
    text = campaign_score.markdown(score, f"{people:,} people (`mailroom score-campaigns`)")
    typer.echo(text)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text("# Campaign lift against the truth\n\n" + text)
        typer.echo(f"report: {report}")


@app.command("campaign-lift")
def campaign_lift(
    scope: str = typer.Option(
        "campaign", help="Rows to print: all_campaigns, campaign (variants combined) or variant."
    ),
) -> None:
    """Print the campaign lift analysis (analyses/campaign_lift.sql): lift versus holdout with intervals."""
    columns, rows = runner.run_analysis("campaign_lift")
    rows = [dict(zip(columns, row, strict=True)) for row in rows]
    typer.echo(
        f"{'campaign':<12}{'variant':<9}{'treated':>9}{'holdout':>9}{'lift':>9}"
        f"{'interval':>22}{'rev/recip':>11}  beats holdout"
    )
    for r in rows:
        if r["scope"] not in (scope, "all_campaigns"):
            continue
        if r["conversion_lift"] is None:
            continue
        interval = f"[{r['conversion_lift_ci_low']:+.4f}, {r['conversion_lift_ci_high']:+.4f}]"
        typer.echo(
            f"{r['campaign_id'] or 'pooled':<12}{r['variant'] or '':<9}{r['recipients']:>9,}"
            f"{r['holdout_recipients']:>9,}{r['conversion_lift']:>+9.4f}{interval:>22}"
            f"{r['revenue_per_recipient_lift']:>+11.3f}  {'yes' if r['beats_holdout'] else ''}"
        )


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
    destination: Destination,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report creates, updates, removes and deletes; send nothing."
    ),
    max_delete_share: MaxDeleteShare = None,
    file_format: FileFormat = None,
    output_dir: OutputDir = None,
    config: SyncYaml = None,
    warehouse: Warehouse = None,
    verbose: Verbose = False,
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
    _run(
        jobs.sync,
        destination,
        dry_run=dry_run,
        max_delete_share=max_delete_share,
        file_format=file_format,
        output_dir=output_dir,
        config=config,
        warehouse=warehouse,
        verbose=verbose,
    )


@app.command()
def trigger(
    destination: Destination,
    every: str | None = typer.Option(
        None,
        help="Run a batch every interval (300, 5m, 1h) until Ctrl-C; a failed batch is "
        "reported and the loop goes on.",
    ),
    now: dt.datetime | None = typer.Option(
        None,
        formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        help="The moment the trigger audiences are evaluated at (UTC; default: the wall "
        "clock, or the end of a sample world's as-of date).",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Build and plan; send nothing."),
    max_delete_share: MaxDeleteShare = None,
    file_format: FileFormat = None,
    output_dir: OutputDir = None,
    config: SyncYaml = None,
    warehouse: Warehouse = None,
    target: str = typer.Option("dev", help="profiles.yml target (dev, ci)."),
    verbose: Verbose = False,
) -> None:
    """One trigger batch: rows landed since the last batch reach the ESP within a minute.

    Maps the new web events, sign-ups, orders, e-mail events, consent and
    erasure requests through the last identity map (new identifiers become
    provisional persons), updates the trigger audiences (cart abandonment,
    browse abandonment, welcome series) and the sync marts' rows of the
    persons touched, and syncs only those persons' changes, with every
    guarantee of `mailroom sync`. Needs a routine build first (docs/trigger.md).

    Exit codes: 0 done; 1 the batch failed or the sync left failures (retried
    by the next batch); 2 bad option; 4 another batch is running.
    """
    _run(
        jobs.trigger,
        destination,
        every=every,
        now=now,
        dry_run=dry_run,
        max_delete_share=max_delete_share,
        file_format=file_format,
        output_dir=output_dir,
        config=config,
        warehouse=warehouse,
        target=target,
        verbose=verbose,
    )


@app.command()
def snapshot(
    warehouse: Warehouse = None,
    serving_dir: Path = typer.Option(
        Path("data/serving"), help="Folder of the serving snapshots and their CURRENT pointer."
    ),
    keep: int = typer.Option(3, min=1, help="Snapshots to keep (the current one included)."),
) -> None:
    """Publish a serving snapshot of the marts for the profile API (`mailroom serve`).

    Reads what the API needs from schema marts (dim_customers, segments,
    scores, customer value, recommendations, content, send preferences,
    audiences, the unknown-profile fallback), writes a new read-only SQLite
    file under SERVING_DIR (one JSON document per person, indexed by
    normalized e-mail and person_id), and only when it is complete repoints
    SERVING_DIR/CURRENT to it (atomically); older snapshots beyond --keep are
    deleted. A running server switches to it between requests. Run it after
    `mailroom build`, not during one (the warehouse is locked).
    """
    _run(jobs.snapshot, warehouse=warehouse, serving_dir=serving_dir, keep=keep)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    serving_dir: Path = typer.Option(
        Path("data/serving"), help="Folder of the snapshots published by `mailroom snapshot`."
    ),
    workers: int = typer.Option(1, min=1, help="uvicorn worker processes."),
    log_level: str = typer.Option("info", help="uvicorn log level (the access log is at info)."),
) -> None:
    """Serve the profile API (read-only) from the current serving snapshot.

    GET /v1/profiles/{key} (e-mail or person_id; unknown keys get the
    fallback profile, or 404 with ?fallback=false), GET
    /v1/audiences/{audience_id}?limit=&cursor= (sendable members, keyset
    pages), GET /health, /openapi.json and /docs. A new snapshot published
    into SERVING_DIR is picked up between requests. It never opens the
    warehouse, so a running `dbt build` does not disturb it.

    API keys come from MAILROOM_API_KEYS only: 'name:scopes:secret' entries
    separated by ';', scopes 'profiles', 'audiences' (comma-separated) or
    '*', secrets of at least 24 characters; clients send
    'Authorization: Bearer <secret>' or 'X-API-Key: <secret>'. The access log
    (stderr) has the method, route template, status, latency and key name:
    no e-mail, person id or secret.
    """
    from mailroom.serve.auth import ApiKeyConfigError
    from mailroom.serve.server import serve as run_server
    from mailroom.serve.snapshot import SnapshotError

    try:
        run_server(host, port, serving_dir, workers=workers, log_level=log_level)
    except (ApiKeyConfigError, SnapshotError) as exc:
        typer.echo(f"cannot start the profile API: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("load-test")
def load_test(
    url: str | None = typer.Option(
        None,
        help="Base URL of a running API (its key in $MAILROOM_LOADTEST_API_KEY); "
        "default: start one on 127.0.0.1 for the test.",
    ),
    serving_dir: Path = typer.Option(
        Path("data/serving"), help="Snapshot folder (served, and where test keys are sampled)."
    ),
    clients: int = typer.Option(16, min=1, help="Concurrent clients (connections)."),
    duration: float = typer.Option(10.0, min=0.5, help="Seconds of load after the warm-up."),
    workers: int = typer.Option(1, min=1, help="Server worker processes (when started here)."),
    seed: int = typer.Option(0, help="Random seed of the request mix."),
) -> None:
    """Drive the profile API with a realistic mix and report requests/s, latency and errors.

    The mix: known e-mails (mixed case, stray spaces) 50%, person ids 25%,
    unknown keys 15%, audience pages (walking cursors) 10%; CLIENTS
    concurrent keep-alive connections for DURATION seconds. Keys are sampled
    from the current snapshot. A benchmark, not a test: figures depend on the
    machine.
    """
    from mailroom.serve.loadtest import LoadTestError, print_result, run_load_test

    try:
        result = run_load_test(
            url=url,
            serving_dir=serving_dir,
            clients=clients,
            duration=duration,
            workers=workers,
            seed=seed,
        )
    except LoadTestError as exc:
        typer.echo(f"load test failed: {exc}", err=True)
        raise typer.Exit(1) from None
    print_result(result)
    if result.errors:
        raise typer.Exit(1)


@app.command()
def dashboard(
    output: Path = typer.Option(
        Path("data/dashboard/index.html"), "--output", "-o", help="HTML file to write."
    ),
    warehouse: Warehouse = None,
) -> None:
    """Write the marketing dashboard: one self-contained HTML file (plotly inlined, opens offline).

    Headline KPIs (customers, contactable audience, revenue, orders, as-of date),
    segment sizes and transitions, propensity scores, tiers and model quality,
    audiences (members, holdout, sendable), campaign lift (marts.fct_campaign_results)
    and data quality (reconciliation, quarantine reasons, identity). Reads the
    marts read-only; aggregates only, no personal data. A section whose marts
    are missing or empty says so and the page still renders.
    """
    _run(jobs.dashboard, output=output, warehouse=warehouse)


@app.command()
def summary() -> None:
    """What the warehouse holds: persons, features, segments, scored and valued persons
    (and what is empty, with the reason), row counts of its schemas, reconciliation,
    identity, lifecycle, segments, models, audiences."""
    _run(jobs.summary)


if __name__ == "__main__":
    app()
