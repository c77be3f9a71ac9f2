"""How good the models are on the user's own history: `mailroom backtest`.

A backtest pretends today is the date D (`--as-of`), builds the warehouse as
it would have been built then, and scores what it predicted against what
happened in the `--horizon` days after D. It never touches the user's
warehouse: the raw tables are copied into a scratch warehouse
(`<output>/backtest_<D>_<h>d.duckdb`), and two builds run there:

1. **Outcomes** (`+fct_orders` at as-of D + h): the identity map and the
   orders as they were known at the end of the horizon. A person's outcome is
   their standing orders (known by then, not cancelled or refunded by then)
   placed in [D + 1 day, D + h + 1 day), the label rule of
   int_propensity__examples.
2. **Predictions** (`PREDICTION_SELECT`, trained, at as-of D): features,
   training, the propensity champion, the customer value, as they would have
   been at D (activation, sync and serving are not built).

Both builds set `future_tolerance_hours: 0`, so every raw row dated after
the build's as-of day is quarantined in staging (the project's own rule,
macro timestamp_checks): nothing after D reaches build 2 at all, not even
the identity graph, and the model registry is trained from scratch (the
user's champion, trained on data after D, is never copied). Build 2 also
sets `purchase_horizon_days: h`, so the propensity model learns the very
outcome it is judged on, and the customer-value model's expected orders
over the purchase horizon cover exactly the h days.

Every scored person of build 2 gets the outcome of the person(s) of build 1
that hold their source records. When records of two persons of D were
merged by what came later, both get the merged person's orders; the report
counts them (`merged_later`).

Scores compared on the same rows (the persons the purchase model scored):

- the propensity champion's purchase probability (fct_propensity_scores);
- the customer-value model's expected orders over the horizon
  (fct_customer_value, a buy-till-you-die model: Pareto/NBD by default);
- a recency baseline: the fewer days since the last order, the higher;
  never-buyers lowest.

Figures per score: ROC-AUC, PR-AUC (average precision), the lift of the top
decile, the share of the buyers in the top 20%, and predicted against actual
counts (the sum of purchase probabilities against buyers; the sum of
expected orders against orders), with percentile bootstrap intervals over
persons (the same resamples for every score).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from mailroom import runner
from mailroom.warehouse import (
    RAW_SCHEMA,
    connect,
    read_metadata,
    using_warehouse,
    warehouse_path,
)

SCHEMA = "backtest"
# What the prediction build needs (and everything upstream): not activation, sync or serving.
PREDICTION_SELECT = "+fct_propensity_scores +fct_customer_value +dim_customers +dim_model_versions"
SCORES = ("propensity champion", "customer value", "recency baseline")


class BacktestError(Exception):
    """A backtest that cannot be run on this warehouse, with the reason."""


@dataclass
class Figure:
    value: float | None
    low: float | None = None
    high: float | None = None


@dataclass
class ScoreFigures:
    score: str
    detail: str
    roc_auc: Figure
    pr_auc: Figure
    top_decile_lift: Figure
    top_20_buyer_share: Figure
    predicted: float | None
    predicted_of: str | None
    actual: float | None
    small_data: str | None = None


@dataclass
class BacktestResult:
    as_of: dt.date
    horizon_days: int
    persons: int
    buyers: int
    orders: int
    merged_later: int
    scores: list[ScoreFigures]
    warnings: list[str] = field(default_factory=list)
    report: Path | None = None
    warehouse: Path | None = None

    def as_dict(self) -> dict:
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["report"] = str(self.report) if self.report else None
        out["warehouse"] = str(self.warehouse) if self.warehouse else None
        return out


# --------------------------------------------------------------------------- metrics


def roc_auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """Area under the ROC curve, ties counted half (Mann-Whitney); None with one class."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(s).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def pr_auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """Average precision (precision at each distinct threshold, weighted by recall gained)."""
    positives = int(y.sum())
    if positives == 0:
        return None
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    tp = np.cumsum(ys)
    # one point per distinct score: the last index of each run of ties
    last = np.r_[np.flatnonzero(np.diff(ss) != 0), len(ss) - 1]
    precision = tp[last] / (last + 1)
    recall_gain = np.diff(np.r_[0, tp[last]]) / positives
    return float((precision * recall_gain).sum())


def top_share_positives(y: np.ndarray, s: np.ndarray, share: float) -> float:
    """Positives among the top `share` of scores, as expected under random tie-breaking."""
    k = share * len(y)
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    # scores strictly above the k-th score, then a fraction of the tied run
    kth = ss[min(int(np.ceil(k)) - 1, len(ss) - 1)] if len(ss) else 0.0
    above = ss > kth
    tied = ss == kth
    taken = above.sum()
    from_tied = max(k - taken, 0.0)
    tied_rate = ys[tied].mean() if tied.any() else 0.0
    return float(ys[above].sum() + from_tied * tied_rate)


def top_decile_lift(y: np.ndarray, s: np.ndarray) -> float | None:
    rate = y.mean() if len(y) else 0.0
    if rate == 0:
        return None
    return top_share_positives(y, s, 0.1) / (0.1 * len(y)) / rate


def top_20_buyer_share(y: np.ndarray, s: np.ndarray) -> float | None:
    total = y.sum()
    return None if total == 0 else top_share_positives(y, s, 0.2) / total


METRICS = {
    "roc_auc": roc_auc,
    "pr_auc": pr_auc,
    "top_decile_lift": top_decile_lift,
    "top_20_buyer_share": top_20_buyer_share,
}


def with_intervals(
    y: np.ndarray, scores: dict[str, np.ndarray], resamples: int = 200, seed: int = 0
) -> dict[str, dict[str, Figure]]:
    """Each metric of each score with a 95% percentile bootstrap interval over rows.

    Every score is measured on the same resamples, so their intervals are
    comparable (they are not independent: the same rows decide them all).
    """
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(resamples)] if len(y) else []
    out: dict[str, dict[str, Figure]] = {}
    for name, s in scores.items():
        out[name] = {}
        for metric, fn in METRICS.items():
            point = fn(y, s)
            values = [fn(y[i], s[i]) for i in draws]
            values = [v for v in values if v is not None]
            if point is None or len(values) < max(10, resamples // 2):
                out[name][metric] = Figure(point)
            else:
                low, high = np.percentile(values, [2.5, 97.5])
                out[name][metric] = Figure(point, float(low), float(high))
    return out


# --------------------------------------------------------------------------- builds


def data_end(source: Path) -> dt.date:
    """The last day of the warehouse's data.

    Its as-of date (a sample world, `load --as-of`); else the day of the last
    order of a built warehouse (a history loaded without --as-of and built
    with `build --as-of`); else today.
    """
    with connect(source, read_only=True) as con:
        meta = read_metadata(con)
        if "as_of" in meta:
            return dt.date.fromisoformat(str(meta["as_of"])[:10])
        built = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'fct_orders'"
        ).fetchone()[0]
        last = (
            con.execute("select max(cast(ordered_at as date)) from marts.fct_orders").fetchone()[0]
            if built
            else None
        )
    return last or dt.datetime.now(dt.UTC).date()


def _loaded_later(cutoff: dt.datetime, history_until: str | None) -> str:
    """SQL: a raw row loaded live at or after `cutoff` (not known before it).

    History rows (the table's first load, or loaded by var
    history_loaded_until: the rule of macro is_history_load) are known at
    their own event time, whenever they were loaded, so they stay: the
    builds' `future_tolerance_hours: 0` quarantines those dated after the
    as-of day.
    """
    history = f" or _loaded_at <= timestamp '{history_until}'" if history_until else ""
    return (
        f"(_loaded_at >= timestamp '{cutoff:%Y-%m-%d %H:%M:%S}' "
        f"and not (_loaded_at <= first_loaded_at{history}))"
    )


def copy_raw(
    source: Path, scratch: Path, cutoff: dt.datetime, history_until: str | None = None
) -> dict[str, int]:
    """The raw tables of `source` as known before `cutoff`, into a new `scratch` warehouse.

    Nothing built from them is copied (the scratch builds and trains anew).
    Returns the rows copied per table.
    """
    scratch.unlink(missing_ok=True)
    scratch.with_suffix(scratch.suffix + ".wal").unlink(missing_ok=True)
    counts = {}
    with connect(scratch) as con:
        con.execute(f"attach '{source}' as source_warehouse (read_only)")
        tables = con.execute(
            "select table_name, bool_or(column_name = '_loaded_at') "
            "from information_schema.columns "
            "where table_catalog = 'source_warehouse' and table_schema = ? group by 1 order by 1",
            [RAW_SCHEMA],
        ).fetchall()
        if not any(loaded for _, loaded in tables):
            raise BacktestError(f"{source} has no raw tables: load or generate data first")
        con.execute(f"create schema if not exists {RAW_SCHEMA}")
        for table, loaded in tables:
            relation = f'source_warehouse.{RAW_SCHEMA}."{table}"'
            keep = "true"
            if loaded:
                keep = f"not {_loaded_later(cutoff, history_until)}"
                relation = f"(select *, min(_loaded_at) over () as first_loaded_at from {relation})"
            con.execute(
                f'create table {RAW_SCHEMA}."{table}" as '
                f"select * exclude (first_loaded_at) from {relation} where {keep}"
                if loaded
                else f'create table {RAW_SCHEMA}."{table}" as select * from {relation}'
            )
            counts[table] = con.execute(f'select count(*) from {RAW_SCHEMA}."{table}"').fetchone()[
                0
            ]
        con.execute("detach source_warehouse")
    return counts


def hide_loads(cutoff: dt.datetime, history_until: str | None = None) -> dict[str, int]:
    """Delete from the current warehouse's raw tables the rows loaded live at or after `cutoff`."""
    removed = {}
    with connect() as con:
        tables = con.execute(
            "select distinct table_name from information_schema.columns "
            "where table_schema = ? and column_name = '_loaded_at' order by 1",
            [RAW_SCHEMA],
        ).fetchall()
        for (table,) in tables:
            relation = f'{RAW_SCHEMA}."{table}"'
            first = con.execute(f"select min(_loaded_at) from {relation}").fetchone()[0]
            if first is None:
                continue
            predicate = _loaded_later(cutoff, history_until).replace(
                "first_loaded_at", f"timestamp '{first}'"
            )
            removed[table] = con.execute(f"delete from {relation} where {predicate}").fetchone()[0]
    return removed


# A backtest's builds run models only: the data and unit tests checked these
# rows in the routine build (DECISIONS.md, "Backtest builds run models only").
MODELS_ONLY = "resource_type:test resource_type:unit_test"


def _build(variables: dict, select: str | None, train: bool) -> None:
    result = runner.dbt_build(
        select=select,
        target="dev",
        full_refresh=True,
        train=train,
        extra_vars=variables,
        exclude=MODELS_ONLY,
    )
    if not result.success:
        failed = [
            f"{n.unique_id}: {n.message}" for n in result.nodes if n.status in ("error", "fail")
        ]
        reasons = "; ".join(failed[:5]) or result.error or "see the dbt log"
        raise BacktestError(f"the backtest build failed: {reasons}")


def outcomes_sql(as_of: dt.date, horizon_days: int) -> str:
    """Standing orders per person in the horizon, as known at its end (int_propensity__examples' rule)."""
    start = as_of + dt.timedelta(days=1)
    cutoff = as_of + dt.timedelta(days=horizon_days + 1)
    return f"""
        select person_id, count(*) as orders
        from marts.fct_orders
        where person_id is not null
          and ordered_at >= timestamp '{start}' and ordered_at < timestamp '{cutoff}'
          and known_at < timestamp '{cutoff}'
          and (reversed_at is null or reversed_at >= timestamp '{cutoff}')
        group by 1
    """


def _save_outcomes(as_of: dt.date, horizon_days: int) -> dt.date | None:
    """After the outcome build: backtest.outcomes and backtest.outcome_records; the last order day."""
    with connect() as con:
        con.execute(f"create schema if not exists {SCHEMA}")
        con.execute(
            f"create or replace table {SCHEMA}.outcomes as {outcomes_sql(as_of, horizon_days)}"
        )
        con.execute(
            f"create or replace table {SCHEMA}.outcome_records as "
            "select source_table, source_record_id, person_id from intermediate.int_identity__clusters"
        )
        last = con.execute("select max(cast(ordered_at as date)) from marts.fct_orders").fetchone()[
            0
        ]
    return last


def _save_predictions() -> None:
    """After the prediction build: what each score said of each person, and the models used."""
    with connect() as con:
        con.execute(f"create schema if not exists {SCHEMA}")
        con.execute(
            f"""
            create or replace table {SCHEMA}.predictions as
            select
                scores.person_id,
                scores.score as purchase_probability,
                value.expected_orders_purchase_horizon,
                customers.days_since_last_order
            from marts.fct_propensity_scores as scores
            left join marts.fct_customer_value as value
                on scores.person_id = value.person_id
            left join marts.dim_customers as customers
                on scores.person_id = customers.person_id
            where scores.model_name = 'purchase'
            """
        )
        con.execute(
            f"create or replace table {SCHEMA}.prediction_records as "
            "select source_table, source_record_id, person_id from intermediate.int_identity__clusters"
        )
        con.execute(
            f"""
            create or replace table {SCHEMA}.models as
            select * from marts.dim_model_versions
            where is_promoted and model_name = 'purchase'
            """
        )


def joined_outcomes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each scored person with the orders of the later person(s) holding their records."""
    return con.execute(
        f"""
        with links as (
            select distinct
                predicted.person_id,
                later.person_id as later_person_id
            from {SCHEMA}.prediction_records as predicted
            inner join {SCHEMA}.outcome_records as later
                on
                    predicted.source_table = later.source_table
                    and predicted.source_record_id = later.source_record_id
        ),

        shared as (
            -- later persons holding the records of more than one person of D
            select later_person_id
            from links
            group by 1
            having count(*) > 1
        ),

        per_person as (
            select
                links.person_id,
                sum(coalesce(outcomes.orders, 0)) as orders,
                bool_or(shared.later_person_id is not null) as merged_later
            from links
            left join {SCHEMA}.outcomes as outcomes
                on links.later_person_id = outcomes.person_id
            left join shared
                on links.later_person_id = shared.later_person_id
            group by 1
        )

        select
            predictions.*,
            coalesce(per_person.orders, 0) as orders,
            coalesce(per_person.merged_later, false) as merged_later
        from {SCHEMA}.predictions as predictions
        left join per_person
            on predictions.person_id = per_person.person_id
        order by predictions.person_id
        """
    ).df()


# --------------------------------------------------------------------------- the job


def recency_score(days_since_last_order: pd.Series) -> np.ndarray:
    """Fewer days since the last order scores higher; never-buyers (null) lowest."""
    days = pd.to_numeric(days_since_last_order, errors="coerce").to_numpy(dtype="float64")
    return np.where(np.isnan(days), -1.0, 1.0 / (1.0 + np.maximum(days, 0.0)))


def evaluate(
    frame: pd.DataFrame, models: pd.DataFrame, resamples: int = 200, seed: int = 0
) -> tuple[list[ScoreFigures], int, int]:
    """The figures of every score on the rows of `frame` (joined_outcomes)."""
    y = (frame["orders"].to_numpy() > 0).astype("int64")
    propensity = pd.to_numeric(frame["purchase_probability"]).to_numpy(dtype="float64")
    value = pd.to_numeric(frame["expected_orders_purchase_horizon"]).to_numpy(dtype="float64")
    value = np.nan_to_num(value, nan=0.0)
    recency = recency_score(frame["days_since_last_order"])
    figures = with_intervals(
        y, dict(zip(SCORES, (propensity, value, recency), strict=True)), resamples, seed
    )
    champion = models.iloc[0] if len(models) else None
    detail = {
        "propensity champion": "fct_propensity_scores.score"
        + (
            f" ({champion['algorithm']}, {champion['model_version']})"
            if champion is not None
            else ""
        ),
        "customer value": "fct_customer_value.expected_orders_purchase_horizon",
        "recency baseline": "fewer days since the last order first",
    }
    small = None
    if champion is not None and "small_data_reason" in models.columns:
        small = champion["small_data_reason"] if champion["small_data_reason"] else None
    predicted = {
        "propensity champion": (float(propensity.sum()), "buyers"),
        "customer value": (float(value.sum()), "orders"),
        "recency baseline": (None, None),
    }
    actual = {"buyers": float(y.sum()), "orders": float(frame["orders"].sum())}
    out = []
    for name in SCORES:
        f = figures[name]
        p, of = predicted[name]
        out.append(
            ScoreFigures(
                score=name,
                detail=detail[name],
                roc_auc=f["roc_auc"],
                pr_auc=f["pr_auc"],
                top_decile_lift=f["top_decile_lift"],
                top_20_buyer_share=f["top_20_buyer_share"],
                predicted=p,
                predicted_of=of,
                actual=actual[of] if of else None,
                small_data=small if name == "propensity champion" else None,
            )
        )
    return out, int(y.sum()), int(frame["orders"].sum())


def run_backtest(
    as_of: dt.date | None = None,
    horizon_days: int | None = None,
    output_dir: Path = Path("data/backtest"),
    source: Path | None = None,
    resamples: int = 200,
    seed: int = 0,
    progress=print,
) -> BacktestResult:
    """Build as of `as_of` in a scratch warehouse and score against the next `horizon_days`."""
    source = (source or warehouse_path()).resolve()
    if not source.exists():
        raise BacktestError(f"no warehouse at {source}: load or generate data first")
    settings = runner.build_vars("dev")
    if horizon_days is None:
        horizon_days = int(
            settings.get("purchase_horizon_days") or runner.project_var("purchase_horizon_days")
        )
    history_until = settings.get("history_loaded_until") or None
    if horizon_days < 1:
        raise BacktestError(f"--horizon must be at least 1 day, got {horizon_days}")
    end = data_end(source)
    if as_of is None:
        as_of = end - dt.timedelta(days=horizon_days)
    if as_of + dt.timedelta(days=horizon_days) > end:
        raise BacktestError(
            f"the data ends on {end}: a {horizon_days}-day backtest needs data until "
            f"{as_of + dt.timedelta(days=horizon_days)}; use --as-of "
            f"{end - dt.timedelta(days=horizon_days)} or earlier"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    # underscores: DuckDB names the catalog after the file
    stem = f"backtest_{as_of:%Y%m%d}_{horizon_days}d"
    scratch = (output_dir / f"{stem}.duckdb").resolve()
    later = as_of + dt.timedelta(days=horizon_days)
    day_after = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    progress(f"copying the raw tables of {source}, as loaded by {later}, into {scratch}")
    copy_raw(source, scratch, day_after + dt.timedelta(days=horizon_days), history_until)
    runner.release_warehouse()
    with using_warehouse(scratch):
        progress(f"outcome build: orders and identity as known on {later} (+fct_orders)")
        _build(
            {"as_of_date": later.isoformat(), "future_tolerance_hours": 0},
            select="+fct_orders",
            train=False,
        )
        last_order = _save_outcomes(as_of, horizon_days)
        hidden = hide_loads(day_after, history_until)
        progress(
            f"prediction build: everything as of {as_of}, trained from scratch "
            f"({sum(hidden.values()):,} raw rows loaded after {as_of} hidden)"
        )
        _build(
            {
                "as_of_date": as_of.isoformat(),
                "future_tolerance_hours": 0,
                "purchase_horizon_days": horizon_days,
            },
            select=PREDICTION_SELECT,
            train=True,
        )
        _save_predictions()
        with connect() as con:
            frame = joined_outcomes(con)
            models = con.execute(f"select * from {SCHEMA}.models").df()
        runner.release_warehouse()
    if frame.empty:
        raise BacktestError(f"nobody was scored as of {as_of}: is there data before that date?")
    scores, buyers, orders = evaluate(frame, models, resamples, seed)
    warnings = []
    if last_order is None or last_order < later - dt.timedelta(days=7):
        warnings.append(
            f"the last order is dated {last_order}, more than a week before the horizon ends "
            f"({later}): the outcomes may be incomplete"
        )
    if buyers == 0:
        warnings.append("nobody bought in the horizon: the figures are undefined")
    result = BacktestResult(
        as_of=as_of,
        horizon_days=horizon_days,
        persons=len(frame),
        buyers=buyers,
        orders=orders,
        merged_later=int(frame["merged_later"].sum()),
        scores=scores,
        warnings=warnings,
        warehouse=scratch,
    )
    result.report = write_report(result, output_dir / f"{stem}.md")
    (output_dir / f"{stem}.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return result


# --------------------------------------------------------------------------- output


def _fmt(f: Figure, spec: str) -> str:
    if f.value is None:
        return "n/a"
    if f.low is None:
        return format(f.value, spec)
    return f"{f.value:{spec}} ({f.low:{spec}}-{f.high:{spec}})"


def table_rows(result: BacktestResult) -> list[list[str]]:
    rows = []
    for s in result.scores:
        rows.append(
            [
                s.score,
                _fmt(s.roc_auc, ".3f"),
                _fmt(s.pr_auc, ".3f"),
                _fmt(s.top_decile_lift, ".2f"),
                _fmt(s.top_20_buyer_share, ".1%"),
                "-"
                if s.predicted is None
                else f"{s.predicted:,.0f} of {s.actual:,.0f} {s.predicted_of}",
            ]
        )
    return rows


HEADER = [
    "score",
    "ROC-AUC",
    "PR-AUC",
    "lift, top 10%",
    "buyers in top 20%",
    "predicted / actual",
]


def write_report(result: BacktestResult, path: Path) -> Path:
    """A Markdown page a marketer can share."""
    lines = [
        f"# Backtest as of {result.as_of}: purchases in the next {result.horizon_days} days",
        "",
        f"Everything after {result.as_of} was hidden, the project was built and trained as of "
        f"that day, and each score is compared with what then happened: "
        f"{result.buyers:,} of {result.persons:,} scored persons bought "
        f"({result.orders:,} orders) in the {result.horizon_days} days after.",
        "Figures on the same persons; in brackets, 95% bootstrap intervals.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(HEADER))) + "|",
    ]
    for row in table_rows(result):
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "What the scores are:", ""]
    for s in result.scores:
        lines.append(f"- **{s.score}**: {s.detail}.")
    flags = [s for s in result.scores if s.small_data]
    lines += [""]
    if flags:
        for s in flags:
            lines.append(f"**Small data ({s.score})**: {s.small_data}.")
    if result.merged_later:
        lines.append(
            f"{result.merged_later:,} persons of {result.as_of} were merged with another by later "
            "records; each is given the merged person's orders."
        )
    for w in result.warnings:
        lines.append(f"Warning: {w}.")
    lines += [
        "",
        "ROC-AUC: the chance a buyer is ranked above a non-buyer (0.5 is a coin). "
        "PR-AUC: average precision over the ranking. Lift: the buyer rate of the top tenth "
        "against everyone's. Predicted / actual: the sum of purchase probabilities against "
        "the buyers, the sum of expected orders against the orders.",
        "",
    ]
    path.write_text("\n".join(lines))
    return path
