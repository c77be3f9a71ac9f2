"""Score customer value (fct_customer_value) against the sample world's truth.

The truth (truth_dir/people.parquet) holds, per true person, the completed
orders and their revenue (EUR) in the 365 days after the as-of date. The
warehouse predicts per resolved person, and identity resolution is
imperfect, so a person is mapped to the true person holding the majority of
its source records (marts.bdg_person_source_records joined to
truth_dir/source_records.parquet; ties go to the smallest true_person_id).

Figures:

- totals: predicted = the sum of expected_orders (expected_revenue)
  over every row of fct_customer_value, mapped or not; truth = the sum of
  orders_next_365d (revenue_next_365d) over every true person; relative
  error = predicted / truth - 1. A true person split over several persons
  is predicted several times, which shows up as over-prediction.
- deciles: every true person's prediction is the sum over the persons
  mapped to them (0 if none); true people are ranked by predicted orders
  (ties by true_person_id) into ten equal groups, decile 10 the highest,
  and each decile's predicted and actual orders and revenue are summed.
  A true person whose records all sit in persons mostly holding someone
  else's (merged by identity resolution) is predicted 0 and lands in decile
  1 with their actual orders: true_people_unpredicted_orders says how many.
- flagged: persons with has_insufficient_history, and their predicted and
  actual orders (actual over the true people they map to, counted once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

PREDICTIONS = "marts.fct_customer_value"


@dataclass
class ValueDecile:
    decile: int
    true_people: int
    predicted_orders: float
    actual_orders: float
    predicted_revenue: float
    actual_revenue: float


@dataclass
class CustomerValueScore:
    truth_people: int
    persons: int
    persons_mapped: int
    true_people_predicted: int
    true_people_unpredicted_orders: float
    predicted_orders: float
    true_orders: float
    orders_relative_error: float
    predicted_revenue: float
    true_revenue: float
    revenue_relative_error: float
    insufficient_history_persons: int
    insufficient_history_predicted_orders: float
    insufficient_history_actual_orders: float
    deciles: list[ValueDecile] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _parquet(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def person_truth(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> pd.DataFrame:
    """person_id -> the true person holding most of its source records (ties: smallest id).

    Persons without a source record in the truth are left out.
    """
    truth = _parquet(Path(truth_dir) / "source_records.parquet")
    return con.execute(
        f"""
        with truth as (
            select source_table, source_record_id, true_person_id
            from read_parquet('{truth}')
        ),

        counted as (
            select
                bridge.person_id,
                truth.true_person_id,
                count(*) as records
            from marts.bdg_person_source_records as bridge
            inner join truth
                on bridge.source_table = truth.source_table
                and bridge.source_record_id = truth.source_record_id
            group by 1, 2
        )

        select person_id, true_person_id
        from counted
        qualify row_number() over (
            partition by person_id order by records desc, true_person_id
        ) = 1
        order by person_id
        """
    ).df()


def score_customer_value(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> CustomerValueScore:
    """Score marts.fct_customer_value against truth_dir/people.parquet (see the module docstring)."""
    return score_predictions(con, truth_dir, PREDICTIONS)


def score_predictions(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, predictions: str
) -> CustomerValueScore:
    """Score any relation with fct_customer_value's columns (a table or a registered frame)."""
    people = _parquet(Path(truth_dir) / "people.parquet")
    con.register("value_score_person_truth", person_truth(con, truth_dir))
    try:
        con.execute(
            f"""
            create or replace temp table value_score_true_people as
            with predicted as (
                select
                    mapping.true_person_id,
                    sum(pred.expected_orders) as predicted_orders,
                    sum(pred.expected_revenue) as predicted_revenue
                from {predictions} as pred
                inner join value_score_person_truth as mapping
                    on pred.person_id = mapping.person_id
                group by 1
            )

            select
                truth.true_person_id,
                predicted.true_person_id is not null as is_predicted,
                coalesce(predicted.predicted_orders, 0) as predicted_orders,
                coalesce(predicted.predicted_revenue, 0) as predicted_revenue,
                truth.orders_next_365d as actual_orders,
                truth.revenue_next_365d as actual_revenue
            from read_parquet('{people}') as truth
            left join predicted
                on truth.true_person_id = predicted.true_person_id
            """
        )
        totals = con.execute(
            f"""
            select
                (select count(*) from value_score_true_people),
                (select count(*) from {predictions}),
                (select count(*) from {predictions} as pred
                    inner join value_score_person_truth as mapping
                        on pred.person_id = mapping.person_id),
                (select count(*) from value_score_true_people where is_predicted),
                (select coalesce(sum(actual_orders), 0) from value_score_true_people
                    where not is_predicted),
                (select coalesce(sum(expected_orders), 0) from {predictions}),
                (select coalesce(sum(actual_orders), 0) from value_score_true_people),
                (select coalesce(sum(expected_revenue), 0) from {predictions}),
                (select coalesce(sum(actual_revenue), 0) from value_score_true_people),
                (select count(*) from {predictions} where has_insufficient_history),
                (select coalesce(sum(expected_orders), 0) from {predictions}
                    where has_insufficient_history),
                (select coalesce(sum(truth.orders_next_365d), 0)
                    from read_parquet('{people}') as truth
                    where truth.true_person_id in (
                        select mapping.true_person_id
                        from {predictions} as pred
                        inner join value_score_person_truth as mapping
                            on pred.person_id = mapping.person_id
                        where pred.has_insufficient_history
                    ))
            """
        ).fetchone()
        deciles = con.execute(
            """
            with ranked as (
                select
                    *,
                    ntile(10) over (order by predicted_orders, true_person_id) as decile
                from value_score_true_people
            )

            select
                decile,
                count(*),
                sum(predicted_orders),
                sum(actual_orders),
                sum(predicted_revenue),
                sum(actual_revenue)
            from ranked
            group by 1
            order by 1
            """
        ).fetchall()
    finally:
        con.unregister("value_score_person_truth")
    (
        truth_people,
        persons,
        mapped,
        predicted_people,
        unpredicted_orders,
        pred_orders,
        true_orders,
        pred_revenue,
        true_revenue,
        flagged,
        flagged_pred,
        flagged_actual,
    ) = totals
    return CustomerValueScore(
        truth_people=int(truth_people),
        persons=int(persons),
        persons_mapped=int(mapped),
        true_people_predicted=int(predicted_people),
        true_people_unpredicted_orders=float(unpredicted_orders),
        predicted_orders=float(pred_orders),
        true_orders=float(true_orders),
        orders_relative_error=_relative(pred_orders, true_orders),
        predicted_revenue=float(pred_revenue),
        true_revenue=float(true_revenue),
        revenue_relative_error=_relative(pred_revenue, true_revenue),
        insufficient_history_persons=int(flagged),
        insufficient_history_predicted_orders=float(flagged_pred),
        insufficient_history_actual_orders=float(flagged_actual),
        deciles=[
            ValueDecile(int(d), int(n), float(po), float(ao), float(pr), float(ar))
            for d, n, po, ao, pr, ar in deciles
        ],
    )


def _relative(predicted: float, truth: float) -> float:
    return float(predicted) / float(truth) - 1.0 if truth else float("nan")


def markdown(score: CustomerValueScore, heading: str) -> str:
    """A Markdown section with the totals and the decile table."""
    lines = [
        f"## {heading}",
        "",
        f"True people: {score.truth_people:,}; persons valued: {score.persons:,} "
        f"({score.persons_mapped:,} mapped to a true person); flagged insufficient "
        f"history: {score.insufficient_history_persons:,}. True people predicted 0 because "
        f"merged into another's person: {score.truth_people - score.true_people_predicted:,} "
        f"({score.true_people_unpredicted_orders:,.0f} actual orders, in decile 1).",
        "",
        "| next 365 days | predicted | truth | error |",
        "|---|---:|---:|---:|",
        f"| orders | {score.predicted_orders:,.0f} | {score.true_orders:,.0f} "
        f"| {score.orders_relative_error:+.1%} |",
        f"| revenue (EUR) | {score.predicted_revenue:,.0f} | {score.true_revenue:,.0f} "
        f"| {score.revenue_relative_error:+.1%} |",
        "",
        "| decile of predicted orders | true people | predicted orders | actual orders "
        "| predicted revenue | actual revenue |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for d in score.deciles:
        lines.append(
            f"| {d.decile} | {d.true_people:,} | {d.predicted_orders:,.0f} "
            f"| {d.actual_orders:,.0f} | {d.predicted_revenue:,.0f} | {d.actual_revenue:,.0f} |"
        )
    return "\n".join(lines) + "\n"
