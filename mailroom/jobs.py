"""The jobs behind the command line, as plain functions.

Every `mailroom` command is a thin wrapper around one of these; a command that
composes others (`demo`) calls these functions, never another command. They
print their progress and summaries, return what they produced, and raise
`JobError` (with the exit code the command line should use) on failure.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from mailroom import runner

DEMO_AS_OF = dt.date(2026, 9, 30)
DEMO_HISTORY_DAYS = 730


class JobError(Exception):
    """A job that could not be done; `exit_code` is what the command line exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def echo(text: str = "") -> None:
    runner.console.print(text, highlight=False, markup=False)


def generate(
    people: int = 50_000,
    seed: int = 42,
    as_of: dt.date = DEMO_AS_OF,
    history_days: int = DEMO_HISTORY_DAYS,
    warehouse: Path | None = None,
    truth_dir: Path = Path("data/truth"),
    chunk_size: int = 25_000,
    pending_days: int = 0,
) -> dict[str, int]:
    """Simulate the sample retailer into the raw schema (and its truth); rows written per table."""
    from mailroom.generator import WorldConfig, generate_world

    cfg = WorldConfig(
        people=people, seed=seed, as_of=as_of, history_days=history_days, chunk_size=chunk_size
    )
    stats = generate_world(cfg, warehouse=warehouse, truth_dir=truth_dir, progress=True)
    runner.print_counts("raw tables written", stats.raw_counts)
    echo(f"truth written to {truth_dir}/ in {stats.seconds:.1f}s")
    if pending_days:
        from mailroom.generator import pending
        from mailroom.warehouse import connect

        with connect(warehouse) as con:
            held = pending.hold_back(con, pending_days)
        runner.print_counts(
            f"held back in {pending.PENDING_SCHEMA} (the last {pending_days} days)", held
        )
    return stats.raw_counts


def land(days: int = 1, warehouse: Path | None = None) -> dict[str, int]:
    """Land the next `days` days of a sample world's held-back loads; rows landed per table."""
    from mailroom.generator import pending
    from mailroom.warehouse import connect

    try:
        with connect(warehouse) as con:
            landed = pending.land(con, days)
            as_of = con.execute(
                "select value from raw.world_metadata where key = 'as_of'"
            ).fetchone()[0]
    except ValueError as exc:
        raise JobError(str(exc), exit_code=2) from None
    runner.print_counts("landed into raw", landed)
    echo(f"{sum(landed.values()):,} rows landed; as-of date now {as_of}")
    return landed


def build(
    select: str | None = None,
    target: str = "dev",
    full_refresh: bool = False,
    train: bool | None = None,
    as_of: dt.date | None = None,
    variables: dict[str, object] | None = None,
    verbose: bool = False,
    full_summary: bool = False,
) -> runner.BuildResult:
    """`dbt build` (training or routine), then the build and warehouse summary.

    `as_of` and `variables` override the dbt vars implied by the warehouse (a
    sample world's as-of date); `train=None` trains only when no model version
    is promoted yet. The build shows its progress by stage; `verbose` streams
    dbt's node log instead. The summary is brief (one screen) unless
    `full_summary` or `verbose`. Raises JobError when the build fails.
    """
    from mailroom.build_progress import BuildProgress
    from mailroom.settings import SettingsError

    extra = dict(variables or {})
    if as_of is not None:
        extra["as_of_date"] = as_of.isoformat()
    try:
        used = runner.build_vars(target, extra)
    except SettingsError as exc:
        raise JobError(str(exc), exit_code=2) from None
    if target != "snowflake":
        from mailroom.warehouse import connect, ensure_raw_schema, warehouse_path

        if warehouse_path().exists():
            with connect() as con:  # a table or column the contract gained since the last load
                ensure_raw_schema(con)
    if train is None:
        train = runner.needs_training(target)
    echo(
        "training run (retrains the propensity models)" if train else "routine run (no retraining)"
    )
    result = runner.dbt_build(
        select=select,
        target=target,
        full_refresh=full_refresh,
        train=train,
        extra_vars=extra,
        progress=None if verbose else BuildProgress(runner.console),
    )
    if not verbose:
        echo(f"dbt's log of every node: {runner.log_dir() / 'dbt.log'} (--verbose shows it live)")
    runner.print_build_summary(result, used, brief=not (verbose or full_summary))
    if not result.success:
        raise JobError("dbt build failed (see above)")
    return result


def docs(target: str = "dev") -> Path:
    """`dbt docs generate --static`: the docs site as one HTML file; returns its path."""
    result = runner.invoke_dbt(["docs", "generate", "--static"], target=target)
    if not result.success:
        raise JobError(f"dbt docs generate failed: {result.exception}")
    site = runner.target_dir() / "static_index.html"
    echo(f"docs site written to {site} (open it in a browser)")
    return site


def backtest(
    as_of: dt.date | None = None,
    horizon_days: int | None = None,
    output_dir: Path = Path("data/backtest"),
    resamples: int = 200,
):
    """Score the models against the user's own past (mailroom.backtest); returns the result."""
    from mailroom.backtest import HEADER, BacktestError, run_backtest, table_rows
    from mailroom.settings import SettingsError

    try:
        result = run_backtest(
            as_of=as_of,
            horizon_days=horizon_days,
            output_dir=output_dir,
            resamples=resamples,
            progress=echo,
        )
    except (BacktestError, SettingsError) as exc:
        raise JobError(str(exc), exit_code=2) from None
    from rich.table import Table

    table = Table(
        title=f"backtest as of {result.as_of}: purchases in the next {result.horizon_days} days "
        f"({result.buyers:,} of {result.persons:,} persons bought, {result.orders:,} orders)"
    )
    for i, name in enumerate(HEADER):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in table_rows(result):
        table.add_row(*(cell.replace(" (", "\n(") for cell in row))  # intervals below
    runner.console.print(table)
    for score in result.scores:
        if score.small_data:
            echo(f"small data ({score.score}): {score.small_data}")
    for warning in result.warnings:
        echo(f"warning: {warning}")
    echo(f"report written to {result.report} (scratch warehouse {result.warehouse})")
    return result


def summary() -> None:
    """Print what the warehouse holds (runner.print_warehouse_summary)."""
    from mailroom.settings import SettingsError

    try:
        runner.print_warehouse_summary()
    except SettingsError as exc:
        raise JobError(str(exc), exit_code=2) from None


def sync(
    destination: str,
    dry_run: bool = False,
    max_delete_share: float | None = None,
    file_format: str | None = None,
    output_dir: Path | None = None,
    config: Path | None = None,
    warehouse: Path | None = None,
    verbose: bool = False,
):
    """Sync the sync marts to `destination` (klaviyo, mailchimp, file); returns the SyncReport."""
    from mailroom.sync import run_sync
    from mailroom.sync.report import print_report

    cfg = _sync_config(
        destination, max_delete_share, file_format, output_dir, config, warehouse, verbose
    )
    report = run_sync(cfg, dry_run=dry_run)
    print_report(report)
    if report.exit_code:
        raise JobError(f"sync to {destination} did not finish cleanly", report.exit_code)
    return report


def _sync_config(
    destination: str,
    max_delete_share: float | None,
    file_format: str | None,
    output_dir: Path | None,
    config: Path | None,
    warehouse: Path | None,
    verbose: bool,
):
    from mailroom.sync import ConfigError, load_config

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    # httpx logs every URL at INFO, and Mailchimp's URLs hold the MD5 of the address.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return load_config(
            config,
            destination=destination,
            max_delete_share=max_delete_share,
            warehouse=warehouse,
            **{"file.format": file_format, "file.output_dir": output_dir},
        )
    except ConfigError as exc:
        raise JobError(f"configuration error: {exc}", exit_code=2) from None


def print_trigger_batch(report) -> None:
    """One batch in a few lines: window, signals, persons, audiences, what was sent."""
    echo(
        f"trigger batch {report.batch_id}: {report.status}"
        + (f" ({report.message})" if report.message else "")
    )
    if report.loaded_until is not None:
        echo(
            f"  rows loaded after {report.loaded_after:%Y-%m-%d %H:%M:%S} until "
            f"{report.loaded_until:%Y-%m-%d %H:%M:%S}; now {report.batch_now:%Y-%m-%d %H:%M:%S}"
        )
    echo(
        f"  {report.signals:,} signals, {report.touched_persons:,} persons touched, "
        f"{report.synced_persons:,} synced"
    )
    if report.audiences:
        echo(
            "  sendable trigger audiences: "
            + ", ".join(f"{k} {v:,}" for k, v in report.audiences.items())
        )
    if report.sync is not None:
        totals = report.sync.totals()
        echo(
            f"  sync {report.sync.status}: created {totals.get('created', 0):,}, updated "
            f"{totals.get('updated', 0):,}, removed {totals.get('removed', 0):,}, erased "
            f"{totals.get('deleted', 0):,}, unchanged {totals.get('unchanged', 0):,}"
        )
    echo(
        f"  {report.seconds:.1f} s (build {report.build_seconds:.1f} s, sync "
        f"{report.sync_seconds:.1f} s)"
    )


def trigger(
    destination: str,
    every: str | None = None,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    max_delete_share: float | None = None,
    file_format: str | None = None,
    output_dir: Path | None = None,
    config: Path | None = None,
    warehouse: Path | None = None,
    target: str = "dev",
    verbose: bool = False,
    max_batches: int | None = None,
):
    """One trigger batch (or one every `every`, until interrupted); returns the last BatchReport."""
    from mailroom import trigger as lane

    cfg = _sync_config(
        destination, max_delete_share, file_format, output_dir, config, warehouse, verbose
    )

    def batch():
        return lane.run_batch(cfg, now=now, target=target, dry_run=dry_run)

    if every is None:
        try:
            report = batch()
        except lane.TriggerBusy as exc:
            raise JobError(str(exc), exit_code=4) from None
        except lane.TriggerError as exc:
            raise JobError(str(exc)) from None
        print_trigger_batch(report)
        if report.status != "succeeded":
            raise JobError(f"trigger batch {report.status}", 1)
        return report
    try:
        interval = lane.parse_interval(every)
    except ValueError as exc:
        raise JobError(str(exc), exit_code=2) from None
    last = []

    def on_report(report, exc) -> None:
        if report is not None:
            print_trigger_batch(report)
            last.append(report)
        else:
            echo(f"trigger batch failed: {exc}; the next one runs in {interval:.0f} s")

    echo(f"a trigger batch every {interval:.0f} s (Ctrl-C stops)")
    try:
        lane.run_every(interval, batch, on_report=on_report, max_batches=max_batches)
    except KeyboardInterrupt:
        echo("stopped")
    return last[-1] if last else None


def snapshot(
    warehouse: Path | None = None, serving_dir: Path = Path("data/serving"), keep: int = 3
) -> Path:
    """Publish a serving snapshot for the profile API; returns its path."""
    from mailroom.serve.snapshot import SnapshotError, publish_snapshot, read_snapshot_meta
    from mailroom.warehouse import warehouse_path

    source = warehouse or warehouse_path()
    try:
        path = publish_snapshot(
            source, serving_dir, keep=keep, progress=lambda step: echo(f"  {step}...")
        )
    except SnapshotError as exc:
        raise JobError(f"snapshot not published: {exc}") from None
    meta = read_snapshot_meta(path)
    counts = meta["row_counts"]
    echo(
        f"published {path} ({path.stat().st_size / 1e6:.1f} MB in {meta['build_seconds']}s), "
        f"as of {meta['as_of_date']}: {counts['profiles']:,} profiles, "
        f"{counts['email_keys']:,} e-mail keys, {counts['audiences']} audiences, "
        f"{counts['audience_members']:,} sendable memberships"
    )
    for warning in meta["warnings"]:
        echo(f"warning: {warning}")
    return path


def dashboard(output: Path = Path("data/dashboard/index.html"), warehouse: Path | None = None):
    """Write the marketing dashboard (one self-contained HTML file); returns its DashboardResult."""
    from mailroom.dashboard import build_dashboard

    try:
        result = build_dashboard(warehouse=warehouse, output=output)
    except FileNotFoundError as exc:
        raise JobError(str(exc)) from None
    echo(
        f"dashboard written to {result.output} ({result.size_bytes / 1e6:.1f} MB, "
        f"{len(result.charts)} charts, as of {result.as_of or 'unknown'}) in {result.seconds:.1f}s"
    )
    if result.panels_without_data:
        echo("panels without data: " + ", ".join(result.panels_without_data))
    for section, error in result.errors.items():
        echo(f"section {section} could not be read: {error}")
    return result


@dataclass
class DemoResult:
    build: runner.BuildResult
    sync_dir: Path
    snapshot: Path
    dashboard: Path


def demo(people: int = 50_000, seed: int = 42, data_dir: Path = Path("data")) -> DemoResult:
    """The main job end to end on the sample world, everything written under `data_dir`.

    Generate the world into the warehouse ($WAREHOUSE_PATH), build it in full
    (training), print the summary, export what the ESP should receive as CSV
    files, publish the profile API's serving snapshot and write the dashboard.
    """
    generate(people=people, seed=seed, truth_dir=data_dir / "truth")
    result = build(full_refresh=True, train=True, full_summary=True)
    echo("\nexporting the sync marts for the ESP (mailroom sync --destination file)")
    sync_dir = data_dir / "sync"
    sync("file", file_format="csv", output_dir=sync_dir)
    echo("\npublishing the serving snapshot for the profile API (mailroom snapshot)")
    published = snapshot(serving_dir=data_dir / "serving")
    echo("\nwriting the marketing dashboard (mailroom dashboard)")
    runner.release_warehouse()  # the dashboard opens the file read-only
    page = dashboard(output=data_dir / "dashboard" / "index.html")
    return DemoResult(build=result, sync_dir=sync_dir, snapshot=published, dashboard=page.output)
