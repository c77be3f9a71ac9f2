"""Campaign results (marts.fct_campaign_results): pooled lift, and a score against the truth.

Pooling. A campaign's variants are combined into one treated group (counts
summed; the revenue variance recombined from each variant's mean and
variance) and compared with its holdout. Campaigns are pooled with the
Mantel-Haenszel weights of a risk difference, w = n1 n0 / (n1 + n0), so a
campaign counts by how much information its comparison holds, and a share
of holdouts that differs by campaign cannot bias the pooled figure (pooling
raw counts across campaigns would). The pooled standard error is
sqrt(sum w^2 var) / sum w with each campaign's variance from the
Agresti-Caffo adjusted proportions ((x + 1) / (n + 2)), which stays above
zero for a small holdout without conversions; revenue per recipient uses
Welch's variance s1^2/n1 + s0^2/n0. Persons are counted once per campaign
but can be in many campaigns, and their outcomes in overlapping windows
correlate a little; the interval ignores that.

Truth. data/truth/campaign_effects.parquet holds, per campaign and variant,
the true incremental conversion probability within the window (what the
holdout comparison estimates) and the realized induced revenue per
recipient. A campaign's truth is the recipient-weighted mean over its
variants; the pooled truth uses the same weights as the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

RESULTS = "marts.fct_campaign_results"


@dataclass
class PooledLift:
    confidence_level: float
    campaigns: int
    treated_recipients: int
    holdout_recipients: int
    treated_conversion_rate: float
    holdout_conversion_rate: float
    conversion_lift: float
    conversion_lift_se: float
    conversion_lift_ci_low: float
    conversion_lift_ci_high: float
    revenue_per_recipient_lift: float
    revenue_per_recipient_lift_se: float
    revenue_per_recipient_lift_ci_low: float
    revenue_per_recipient_lift_ci_high: float

    @property
    def is_significant(self) -> bool:
        return self.conversion_lift_ci_low > 0 or self.conversion_lift_ci_high < 0


def z_value(confidence_level: float) -> float:
    return float(stats.norm.ppf(1 - (1 - confidence_level) / 2))


def campaign_comparisons(results: pd.DataFrame) -> pd.DataFrame:
    """One row per campaign with a holdout: all its variants against the holdout."""
    r = results.copy()
    r["variance"] = r["revenue_per_recipient_variance"].astype(float).fillna(0.0)
    n = r["recipients"].astype(float)
    mean = r["revenue_per_recipient"].astype(float)
    # Sum of squares of window revenue, to recombine the variance over variants.
    r["sum_squares"] = (n - 1) * r["variance"] + n * mean**2
    r["revenue"] = n * mean
    treated = (
        r[~r["is_holdout"].astype(bool)]
        .groupby("campaign_id")
        .agg(
            n1=("recipients", "sum"),
            x1=("converted_recipients", "sum"),
            revenue1=("revenue", "sum"),
            sum_squares1=("sum_squares", "sum"),
        )
    )
    holdout = (
        r[r["is_holdout"].astype(bool)]
        .set_index("campaign_id")[["recipients", "converted_recipients", "revenue", "variance"]]
        .rename(
            columns={
                "recipients": "n0",
                "converted_recipients": "x0",
                "revenue": "revenue0",
                "variance": "variance0",
            }
        )
    )
    c = treated.join(holdout, how="inner")
    c = c[(c["n0"] > 0) & (c["n1"] > 0)].astype(float)
    c["p1"], c["p0"] = c["x1"] / c["n1"], c["x0"] / c["n0"]
    c["m1"], c["m0"] = c["revenue1"] / c["n1"], c["revenue0"] / c["n0"]
    c["variance1"] = np.where(
        c["n1"] > 1, (c["sum_squares1"] - c["n1"] * c["m1"] ** 2) / (c["n1"] - 1).clip(lower=1), 0.0
    )
    c["variance1"] = c["variance1"].clip(lower=0.0)
    c["weight"] = c["n1"] * c["n0"] / (c["n1"] + c["n0"])
    a1, a0 = (c["x1"] + 1) / (c["n1"] + 2), (c["x0"] + 1) / (c["n0"] + 2)
    c["conversion_variance"] = a1 * (1 - a1) / (c["n1"] + 2) + a0 * (1 - a0) / (c["n0"] + 2)
    c["revenue_variance"] = c["variance1"] / c["n1"] + c["variance0"] / c["n0"]
    c["conversion_lift"] = c["p1"] - c["p0"]
    c["revenue_per_recipient_lift"] = c["m1"] - c["m0"]
    return c.reset_index()


def pooled_lift(results: pd.DataFrame) -> PooledLift | None:
    """The Mantel-Haenszel pooled lift over every campaign with a holdout; None without one."""
    c = campaign_comparisons(results)
    if c.empty:
        return None
    level = float(results["confidence_level"].dropna().iloc[0])
    z = z_value(level)
    w, total = c["weight"], c["weight"].sum()
    lift = float((w * c["conversion_lift"]).sum() / total)
    se = float(math.sqrt((w**2 * c["conversion_variance"]).sum()) / total)
    rev = float((w * c["revenue_per_recipient_lift"]).sum() / total)
    rev_se = float(math.sqrt((w**2 * c["revenue_variance"]).sum()) / total)
    return PooledLift(
        confidence_level=level,
        campaigns=len(c),
        treated_recipients=int(c["n1"].sum()),
        holdout_recipients=int(c["n0"].sum()),
        treated_conversion_rate=float(c["x1"].sum() / c["n1"].sum()),
        holdout_conversion_rate=float(c["x0"].sum() / c["n0"].sum()),
        conversion_lift=lift,
        conversion_lift_se=se,
        conversion_lift_ci_low=lift - z * se,
        conversion_lift_ci_high=lift + z * se,
        revenue_per_recipient_lift=rev,
        revenue_per_recipient_lift_se=rev_se,
        revenue_per_recipient_lift_ci_low=rev - z * rev_se,
        revenue_per_recipient_lift_ci_high=rev + z * rev_se,
    )


@dataclass
class CampaignScore:
    pooled: PooledLift
    true_pooled_conversion_lift: float
    true_pooled_revenue_per_recipient_lift: float
    variant_rows: int  # treated rows with a holdout comparison
    variant_rows_covered: int  # whose conversion interval holds the true effect
    variant_rows_significant: int
    variant_rows_beating_holdout: int  # significant and positive
    campaigns: pd.DataFrame  # per campaign: estimate, interval, truth
    machine_open_event_share: float
    machine_only_opener_share: float

    @property
    def pooled_covers_truth(self) -> bool:
        p = self.pooled
        return (
            p.conversion_lift_ci_low
            <= self.true_pooled_conversion_lift
            <= p.conversion_lift_ci_high
        )

    @property
    def pooled_revenue_covers_truth(self) -> bool:
        p = self.pooled
        return (
            p.revenue_per_recipient_lift_ci_low
            <= self.true_pooled_revenue_per_recipient_lift
            <= p.revenue_per_recipient_lift_ci_high
        )


def read_results(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(f"select * from {RESULTS} order by campaign_id, variant").df()


def score(results: pd.DataFrame, truth_dir: Path) -> CampaignScore:
    """Compare the measured lifts with data/truth/campaign_effects.parquet."""
    truth = pd.read_parquet(truth_dir / "campaign_effects.parquet")
    pooled = pooled_lift(results)
    if pooled is None:
        raise ValueError(f"{RESULTS} has no campaign with a holdout to score")
    c = campaign_comparisons(results)
    truth = truth.assign(
        expected=truth["true_incremental_conversion_probability"] * truth["recipients"]
    )
    per_campaign = truth.groupby("campaign_id").agg(
        truth_recipients=("recipients", "sum"),
        expected=("expected", "sum"),
        induced_revenue=("induced_revenue_in_window", "sum"),
    )
    per_campaign["true_conversion_lift"] = (
        per_campaign["expected"] / per_campaign["truth_recipients"]
    )
    per_campaign["true_revenue_per_recipient_lift"] = (
        per_campaign["induced_revenue"] / per_campaign["truth_recipients"]
    )
    c = c.merge(per_campaign.reset_index(), on="campaign_id", how="left")
    w = c["weight"]
    true_lift = float((w * c["true_conversion_lift"].fillna(0)).sum() / w.sum())
    true_rev = float((w * c["true_revenue_per_recipient_lift"].fillna(0)).sum() / w.sum())

    rows = results[results["conversion_lift"].notna()].merge(
        truth[["campaign_id", "variant", "true_incremental_conversion_probability"]],
        on=["campaign_id", "variant"],
        how="left",
    )
    true_p = rows["true_incremental_conversion_probability"].fillna(0.0)
    covered = (rows["conversion_lift_ci_low"] <= true_p) & (
        true_p <= rows["conversion_lift_ci_high"]
    )
    significant = rows["is_significant"].fillna(False).astype(bool)
    treated = results[~results["is_holdout"].astype(bool)]
    opens = float(treated["open_events"].sum())
    openers = float(treated["unique_opens"].sum())
    return CampaignScore(
        pooled=pooled,
        true_pooled_conversion_lift=true_lift,
        true_pooled_revenue_per_recipient_lift=true_rev,
        variant_rows=len(rows),
        variant_rows_covered=int(covered.sum()),
        variant_rows_significant=int(significant.sum()),
        variant_rows_beating_holdout=int((significant & (rows["conversion_lift"] > 0)).sum()),
        campaigns=c,
        machine_open_event_share=float(treated["machine_open_events"].sum()) / opens
        if opens
        else 0.0,
        machine_only_opener_share=(
            float((treated["unique_opens"] - treated["human_opens"]).sum()) / openers
            if openers
            else 0.0
        ),
    )


def markdown(s: CampaignScore, heading: str) -> str:
    p = s.pooled
    pct = round(p.confidence_level * 100)
    lines = [
        f"## {heading}",
        "",
        f"Campaigns with a holdout: {p.campaigns} ({p.treated_recipients:,} treated and "
        f"{p.holdout_recipients:,} holdout recipients; conversion {p.treated_conversion_rate:.4f} "
        f"vs {p.holdout_conversion_rate:.4f}).",
        "",
        "| pooled (Mantel-Haenszel) | estimate | " + f"{pct}% interval | truth | covered |",
        "|---|---|---|---|---|",
        f"| conversion lift | {p.conversion_lift:.5f} | [{p.conversion_lift_ci_low:.5f}, "
        f"{p.conversion_lift_ci_high:.5f}] | {s.true_pooled_conversion_lift:.5f} | "
        f"{'yes' if s.pooled_covers_truth else 'no'} |",
        f"| revenue per recipient lift (EUR) | {p.revenue_per_recipient_lift:.4f} | "
        f"[{p.revenue_per_recipient_lift_ci_low:.4f}, {p.revenue_per_recipient_lift_ci_high:.4f}] | "
        f"{s.true_pooled_revenue_per_recipient_lift:.4f} | "
        f"{'yes' if s.pooled_revenue_covers_truth else 'no'} |",
        "",
        f"Pooled conversion lift {'is' if p.is_significant else 'is not'} significant at {pct}% "
        f"(z = {p.conversion_lift / p.conversion_lift_se:.2f}).",
        "",
        f"Variant rows compared with a holdout: {s.variant_rows}; their {pct}% interval "
        f"(Newcombe) covers the true effect for {s.variant_rows_covered} "
        f"({s.variant_rows_covered / max(s.variant_rows, 1):.1%}); significant: "
        f"{s.variant_rows_significant}, of which beating the holdout: "
        f"{s.variant_rows_beating_holdout}.",
        "",
        f"Machine opens: {s.machine_open_event_share:.1%} of open events; "
        f"{s.machine_only_opener_share:.1%} of openers opened only by machine.",
        "",
        "| campaign | treated | holdout | lift | truth | revenue lift | revenue truth |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in s.campaigns.sort_values("campaign_id").itertuples():
        lines.append(
            f"| {r.campaign_id} | {int(r.n1):,} | {int(r.n0):,} | {r.conversion_lift:.4f} | "
            f"{r.true_conversion_lift:.4f} | {r.revenue_per_recipient_lift:.3f} | "
            f"{r.true_revenue_per_recipient_lift:.3f} |"
        )
    return "\n".join(lines) + "\n"
