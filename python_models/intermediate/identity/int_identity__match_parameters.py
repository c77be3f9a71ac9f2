"""Fellegi-Sunter parameters of the probabilistic identity step, learned without labels.

- u probabilities (how often two different people agree by chance) come from
  random record pairs (int_identity__random_pair_patterns).
- m probabilities (how often two records of one person agree) are estimated
  by expectation-maximisation over the candidate pairs with u held fixed, one
  session per blocking rule (int_identity__candidate_patterns). A session
  does not learn the comparisons its rule blocks on: they agree in every pair
  by construction and would make EM call every pair a match. This is how
  Splink trains; where Splink averages the sessions plainly, each comparison's
  m here is weighted by the matches each session found.
- The prior is the probability that two random records match: the matches
  the most productive session found, over all record pairs.

One row per (comparison, level) with m, u and the match weight log2(m / u);
the prior and EM diagnostics are repeated on every row.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mailroom.pymodels.bridge import for_warehouse, to_pandas

NULL_LEVEL = -1


def comparison_columns(patterns: pd.DataFrame) -> list[str]:
    return [c for c in patterns.columns if c.startswith("gamma_")]


def level_shares(
    levels: np.ndarray, weights: np.ndarray, all_levels: list[int], pseudo_count: float
) -> dict[int, float]:
    """Weighted share of each non-null level; a pseudo-count keeps every share above 0."""
    totals = {lv: float(weights[levels == lv].sum()) + pseudo_count for lv in all_levels}
    total = sum(totals.values())
    return {lv: t / total for lv, t in totals.items()}


def u_probabilities(random_patterns: pd.DataFrame, levels: dict[str, list[int]]) -> dict:
    counts = random_patterns["pair_count"].to_numpy(dtype="float64")
    return {
        col: level_shares(random_patterns[col].to_numpy(), counts, levels[col], 1.0)
        for col in levels
    }


def initial_m(levels: dict[str, list[int]]) -> dict:
    """Matches mostly agree: the top level starts at 0.9, the rest share 0.1."""
    out = {}
    for col, lvs in levels.items():
        top = max(lvs)
        rest = [lv for lv in lvs if lv != top]
        out[col] = {lv: 0.9 if lv == top else 0.1 / max(len(rest), 1) for lv in lvs}
    return out


def log_likelihood_ratio(patterns: pd.DataFrame, m: dict, u: dict, columns: list[str]):
    """Per pattern, the sum over `columns` of ln(m / u) at its level (a null adds 0)."""
    total = np.zeros(len(patterns))
    for col in columns:
        lv = patterns[col].to_numpy()
        table = {x: math.log(m[col][x] / u[col][x]) for x in m[col]}
        total += np.array([table.get(int(x), 0.0) for x in lv])
    return total


def em_session(
    patterns: pd.DataFrame,
    u: dict,
    levels: dict[str, list[int]],
    learn: list[str],
    max_iterations: int,
    tolerance: float,
) -> dict:
    """EM over one session's patterns, learning m for the comparisons in `learn`."""
    counts = patterns["pair_count"].to_numpy(dtype="float64")
    m = initial_m(levels)
    lam = 0.5
    converged = False
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        logit = math.log(lam / (1 - lam)) + log_likelihood_ratio(patterns, m, u, learn)
        posterior = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        weights = counts * posterior
        new_lam = float(np.clip(weights.sum() / counts.sum(), 1e-9, 1 - 1e-9))
        new_m = dict(m)
        for col in learn:
            new_m[col] = level_shares(patterns[col].to_numpy(), weights, levels[col], 0.5)
        change = max(
            [abs(new_lam - lam)] + [abs(new_m[c][lv] - m[c][lv]) for c in learn for lv in levels[c]]
        )
        m, lam = new_m, new_lam
        if change < tolerance:
            converged = True
            break
    return {
        "m": m,
        "lambda": lam,
        "matches": lam * counts.sum(),
        "iterations": iterations,
        "converged": converged,
    }


def match_parameters(
    candidate_patterns: pd.DataFrame,
    random_patterns: pd.DataFrame,
    max_iterations: int = 200,
    tolerance: float = 1e-7,
) -> pd.DataFrame:
    columns = comparison_columns(candidate_patterns)
    levels = {}
    for col in columns:
        seen = set(candidate_patterns[col].tolist()) | set(random_patterns[col].tolist())
        levels[col] = sorted(int(x) for x in seen if x != NULL_LEVEL) or [0]
    u = u_probabilities(random_patterns, levels)

    sessions = []
    for _, session in candidate_patterns.groupby("blocking_rule", sort=True):
        held_out = {
            f"gamma_{c}" for c in str(session["held_out_comparisons"].iloc[0]).split(",") if c
        }
        learn = [c for c in columns if c not in held_out]
        result = em_session(session, u, levels, learn, max_iterations, tolerance)
        result["learn"] = learn
        sessions.append(result)

    m = {}
    for col in columns:
        learnt = [s for s in sessions if col in s["learn"] and s["matches"] > 0]
        if not learnt:
            m[col] = initial_m(levels)[col]
            continue
        total = sum(s["matches"] for s in learnt)
        m[col] = {
            lv: sum(s["m"][col][lv] * s["matches"] for s in learnt) / total for lv in levels[col]
        }

    population = float(random_patterns["population_records"].max())
    all_pairs = max(population * (population - 1) / 2, 1.0)
    matches = max((s["matches"] for s in sessions), default=0.0)
    prior = float(np.clip(matches / all_pairs, 1e-12, 0.5))

    rows = [
        {
            "comparison": col.removeprefix("gamma_"),
            "comparison_level": lv,
            "m_probability": m[col][lv],
            "u_probability": u[col][lv],
            "match_weight": math.log2(m[col][lv] / u[col][lv]),
        }
        for col in columns
        for lv in levels[col]
    ]
    out = pd.DataFrame(rows)
    out["prior_match_probability"] = prior
    out["candidate_pairs"] = int(
        candidate_patterns.groupby("blocking_rule")["pair_count"].sum().max()
        if len(candidate_patterns)
        else 0
    )
    out["random_pairs"] = int(random_patterns["pair_count"].sum())
    out["em_sessions"] = len(sessions)
    out["em_iterations"] = max((s["iterations"] for s in sessions), default=0)
    out["em_converged"] = all(s["converged"] for s in sessions)
    return out


def model(dbt, session):
    candidate_patterns = to_pandas(dbt.ref("int_identity__candidate_patterns"))
    random_patterns = to_pandas(dbt.ref("int_identity__random_pair_patterns"))
    max_iterations = dbt.config.meta_get("em_max_iterations")
    tolerance = dbt.config.meta_get("em_tolerance")
    parameters = match_parameters(
        candidate_patterns,
        random_patterns,
        max_iterations=int(max_iterations or 200),
        tolerance=float(tolerance or 1e-7),
    )
    return for_warehouse(parameters, session)
