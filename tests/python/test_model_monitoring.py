"""Model monitoring (rpt_model_monitoring): the model's pure functions, no dbt run."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from conftest import load_model_module

from mailroom.pymodels.propensity import bin_shares


@pytest.fixture(scope="module")
def monitoring():
    return load_model_module("python_models/marts/propensity/rpt_model_monitoring.py")


@pytest.fixture(scope="module")
def training():
    return load_model_module(
        "python_models/intermediate/propensity/int_propensity__model_versions.py"
    )


# --------------------------------------------------------------------------- PSI


def test_psi_of_identical_distributions_is_zero(monitoring) -> None:
    shares = [0.1, 0.2, 0.3, 0.25, 0.15, 0.0]
    assert monitoring.psi(shares, shares) == 0.0


def test_psi_of_a_known_shift(monitoring) -> None:
    reference = [0.5, 0.5, 0.0]
    current = [0.25, 0.75, 0.0]
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5); the empty null bin adds nothing
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert monitoring.psi(reference, current) == pytest.approx(expected)
    assert monitoring.psi(reference, current) == pytest.approx(0.274653, abs=1e-6)


def test_psi_counts_an_empty_bin_as_epsilon(monitoring) -> None:
    reference = [0.5, 0.5, 0.0]
    current = [0.5, 0.4, 0.1]  # nulls appear where training had none
    expected = (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.1 - 1e-4) * math.log(0.1 / 1e-4)
    assert monitoring.psi(reference, current, epsilon=1e-4) == pytest.approx(expected)
    with pytest.raises(ValueError, match="shares"):
        monitoring.psi([0.5, 0.5], [1.0])


def test_psi_status_thresholds(monitoring) -> None:
    assert monitoring.psi_status(0.0999, 0.1, 0.25) == "ok"
    assert monitoring.psi_status(0.1, 0.1, 0.25) == "warn"
    assert monitoring.psi_status(0.2499, 0.1, 0.25) == "warn"
    assert monitoring.psi_status(0.25, 0.1, 0.25) == "fail"


@pytest.mark.parametrize(
    "values",
    [
        [3.0, 1.0, None, 2.0, 2.0, 5.0, 7.5, None, -1.0, 4.0],  # values on the edges, nulls
        list(range(-5, 40)),
        [None, None],
        [],
    ],
)
def test_bin_shares_count_every_row_once(values) -> None:
    # the rule training records its reference with and monitoring bins today by
    edges = [1.0, 2.0, 4.0, 7.5]
    shares = bin_shares(pd.Series(values, dtype="float64"), edges)
    assert len(shares) == len(edges) + 2
    assert sum(shares) == pytest.approx(1.0 if values else 0.0)


def test_bins_put_an_edge_value_in_the_bin_below() -> None:
    # (-inf, 1], (1, 2], (2, inf), null
    shares = bin_shares(pd.Series([1.0, 1.5, 2.0, 3.0, None]), [1.0, 2.0])
    assert shares == [0.2, 0.4, 0.2, 0.2]


def test_psi_of_the_training_population_against_its_own_reference_is_zero(
    monitoring, training
) -> None:
    rng = np.random.default_rng(7)
    values = pd.Series(rng.gamma(2.0, 10.0, 2000)).round(0).where(rng.random(2000) > 0.1)
    reference = training.reference_bins(values)
    current = bin_shares(values.sample(frac=1.0, random_state=1), reference["edges"])
    assert monitoring.psi(reference["shares"], current) == pytest.approx(0.0, abs=1e-12)


def champion_row(reference: dict, model_name: str = "purchase") -> dict:
    return {
        "model_name": model_name,
        "model_version": f"{model_name}-xgboost-abc",
        "promoted_at": pd.Timestamp("2026-09-01"),
        "train_rows": 4,
        "roc_auc": 0.8,
        "artifact": json.dumps({"kind": "xgboost", "reference": reference}),
        "feature_importance": json.dumps(
            [{"feature": "gone", "importance": 0.3}, {"feature": "tenure_days", "importance": 0.2}]
        ),
    }


def test_population_stability_rows(monitoring) -> None:
    reference = {
        "features": {
            "tenure_days": {"edges": [10.0], "shares": [0.5, 0.5, 0.0]},
            "orders_30d": {"edges": [0.0], "shares": [0.5, 0.5, 0.0]},
            "gone": {"edges": [1.0], "shares": [0.5, 0.5, 0.0]},
        },
        "score": {"edges": [0.5], "shares": [0.5, 0.5, 0.0]},
    }
    scores = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "score": [0.1, 0.9, 0.2, 0.8],
            "model_version": "purchase-xgboost-abc",
        }
    )
    features = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "tenure_days": [5, 20, 30, 40],
            "orders_30d": [0, 1, 0, 2],
        }
    )
    settings = {
        "psi_warn": 0.1,
        "psi_fail": 0.25,
        "psi_epsilon": 1e-4,
        "excluded_features": {"tenure_days"},
    }
    rows = {
        r["subject"]: r
        for r in monitoring.population_stability(
            pd.Series(champion_row(reference)), scores, features, settings
        )
    }
    assert set(rows) == {"tenure_days", "orders_30d", "gone", "score"}
    assert (
        rows["orders_30d"]["value"] == pytest.approx(0.0) and rows["orders_30d"]["status"] == "ok"
    )
    assert rows["score"]["value"] == pytest.approx(0.0) and rows["score"]["status"] == "ok"
    # 1/4 vs 1/2 and 3/4 vs 1/2: the known shift, but the feature is excluded
    assert rows["tenure_days"]["value"] == pytest.approx(0.274653, abs=1e-6)
    assert rows["tenure_days"]["status"] == "excluded"
    # a feature missing today counts as all null
    assert rows["gone"]["status"] == "fail" and "missing" in rows["gone"]["note"]
    assert rows["score"]["current_rows"] == 4 and rows["score"]["reference_rows"] == 4
    # a feature outside the model's most important ones warns at most
    settings["fail_top_features"] = 0
    unimportant = monitoring.population_stability(
        pd.Series(champion_row(reference)), scores, features, settings
    )
    gone = next(r for r in unimportant if r["subject"] == "gone")
    assert gone["status"] == "warn" and "most important" in gone["note"]


# --------------------------------------------------------------------------- realized ROC-AUC


def test_roc_auc_matches_sklearn_with_ties(monitoring) -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300) * 0.5 + y * 0.3, 1)  # coarse scores: many ties
    assert monitoring.roc_auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert monitoring.roc_auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


# Scored on 2026-08-01 with a 30-day horizon: the label window is [2026-08-02, 2026-09-01);
# the current cut-off (as_of_at of 2026-09-30) is 2026-10-01 00:00.
ORDERS = pd.DataFrame(
    [
        # a: an order in the window, loaded in time, standing
        ("a", ts("2026-08-10 12:00"), ts("2026-08-10 13:00"), pd.NaT),
        # b: an order in the window, cancelled before the cut-off: does not count
        ("b", ts("2026-08-15 09:00"), ts("2026-08-15 10:00"), ts("2026-08-20 00:00")),
        # c: an order in the window, refunded after the cut-off: still counts
        ("c", ts("2026-08-31 23:59"), ts("2026-09-01 01:00"), ts("2026-10-01 00:00")),
        # d: an order in the window loaded only after the cut-off (late): does not count
        ("d", ts("2026-08-20 09:00"), ts("2026-10-01 00:00"), pd.NaT),
        # e: orders on the as-of day and on the first day after the window: outside it
        ("e", ts("2026-08-01 23:59"), ts("2026-08-02 00:00"), pd.NaT),
        ("e", ts("2026-09-01 00:00"), ts("2026-09-01 00:00"), pd.NaT),
        # f: the first minute of the window
        ("f", ts("2026-08-02 00:00"), ts("2026-08-02 00:05"), pd.NaT),
        # an order nobody could be matched to
        (None, ts("2026-08-10 00:00"), ts("2026-08-10 00:00"), pd.NaT),
    ],
    columns=["person_id", "ordered_at", "known_at", "reversed_at"],
)
CUTOFF = dt.datetime(2026, 10, 1)


def test_label_window(monitoring) -> None:
    assert monitoring.label_window(dt.date(2026, 8, 1), 30) == (ts("2026-08-02"), ts("2026-09-01"))


def test_realized_labels_follow_the_examples_rule(monitoring) -> None:
    people = pd.Series(["a", "b", "c", "d", "e", "f", "g"])
    standing = monitoring.standing_orders(ORDERS, CUTOFF)
    start, end = monitoring.label_window(dt.date(2026, 8, 1), 30)
    purchase = monitoring.realized_labels("purchase", people, standing, start, end)
    assert purchase.tolist() == [1, 0, 1, 0, 0, 1, 0]
    churn = monitoring.realized_labels("churn", people, standing, start, end)
    assert churn.tolist() == [0, 1, 0, 1, 1, 0, 1]


def history_rows(
    as_of_date: str, scores: dict[str, float], model_name: str = "purchase"
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model_name": model_name,
            "model_version": f"{model_name}-xgboost-abc",
            "person_id": list(scores),
            "score": list(scores.values()),
            "as_of_date": pd.Timestamp(as_of_date),
        }
    )


def test_realized_roc_auc_only_for_ended_windows(monitoring) -> None:
    history = pd.concat(
        [
            # purchasers a, c, f score high but g (no order) beats c: 8 of 9 pairs ranked right
            history_rows(
                "2026-08-01", {"a": 0.9, "c": 0.5, "f": 0.7, "b": 0.2, "d": 0.3, "g": 0.6}
            ),
            # window [2026-09-02, 2026-10-02) has not ended by 2026-09-30
            history_rows("2026-09-01", {"a": 0.9, "b": 0.1}),
            # churn, 90 days: the window of 2026-07-02 ends 2026-09-30, just in time; nobody ordered
            history_rows("2026-07-02", {"x": 0.4, "y": 0.6}, model_name="churn"),
        ]
    )
    rows = monitoring.realized_roc_auc(
        history,
        ORDERS,
        {"purchase": 30, "churn": 90},
        dt.date(2026, 9, 30),
        CUTOFF,
        {"purchase-xgboost-abc": 0.81},
    )
    assert [(r["model_name"], r["subject"]) for r in rows] == [
        ("churn", "2026-07-02"),
        ("purchase", "2026-08-01"),
    ]
    churn, purchase = rows
    assert churn["value"] is None and "single outcome" in churn["note"] and churn["positives"] == 2
    assert purchase["value"] == pytest.approx(8 / 9)
    assert purchase["positives"] == 3 and purchase["current_rows"] == 6
    assert purchase["reference_value"] == 0.81
    assert purchase["label_window_end_date"] == ts("2026-08-31")


def test_monitor_output_is_typed_and_sorted(monitoring) -> None:
    reference = {
        "features": {"orders_30d": {"edges": [0.0], "shares": [0.5, 0.5, 0.0]}},
        "score": {},
    }
    versions = pd.DataFrame([champion_row(reference)])
    scores = pd.DataFrame(
        {
            "person_id": ["a", "b"],
            "model_name": "purchase",
            "model_version": "purchase-xgboost-abc",
            "score": [0.1, 0.9],
        }
    )
    features = pd.DataFrame({"person_id": ["a", "b"], "orders_30d": [0, 3]})
    settings = {
        "psi_warn": 0.1,
        "psi_fail": 0.25,
        "psi_epsilon": 1e-4,
        "excluded_features": set(),
        "horizons": {"purchase": 30, "churn": 90},
    }
    history = history_rows("2026-08-01", {"a": 0.9, "b": 0.2})
    out = monitoring.monitor(
        versions,
        scores,
        features,
        history,
        ORDERS,
        settings,
        dt.date(2026, 9, 30),
        CUTOFF,
        dt.datetime(2026, 10, 1, 6),
    )
    assert list(out.columns) == monitoring.OUTPUT_COLUMNS
    assert out[["check_name", "subject"]].values.tolist() == [
        ["psi", "orders_30d"],
        ["realized_roc_auc", "2026-08-01"],
    ]
    assert out["value"].tolist() == [pytest.approx(0.0), 1.0]
    assert str(out["positives"].dtype) == "Int64" and out["as_of_date"].iloc[0] == ts("2026-09-30")
    empty = monitoring.monitor(
        versions.iloc[:0],
        scores,
        features,
        None,
        None,
        settings,
        None,
        None,
        dt.datetime(2026, 10, 1),
    )
    assert empty.empty and list(empty.columns) == monitoring.OUTPUT_COLUMNS


def test_a_realized_roc_auc_well_below_validation_warns(monitoring) -> None:
    history = pd.DataFrame(
        {
            "model_name": "purchase",
            "model_version": "v1",
            "person_id": ["a", "b", "c", "d"],
            "score": [0.9, 0.8, 0.2, 0.1],
            "as_of_date": pd.Timestamp("2026-08-01"),
        }
    )
    # a and c bought: 3 of 4 buyer/non-buyer pairs ranked right
    orders = pd.DataFrame(
        {
            "person_id": ["a", "c"],
            "ordered_at": pd.Timestamp("2026-08-10"),
            "known_at": pd.Timestamp("2026-08-10"),
            "reversed_at": pd.NaT,
        }
    )
    args = (history, orders, {"purchase": 30}, dt.date(2026, 9, 30), dt.datetime(2026, 10, 1))
    (row,) = monitoring.realized_roc_auc(*args, {"v1": 0.9})
    assert row["value"] == pytest.approx(0.75)
    assert row["status"] == "warn" and "below the validation" in row["note"]
    (row,) = monitoring.realized_roc_auc(*args, {"v1": 0.78})
    assert row["status"] == "ok"


def test_the_calendar_does_not_fail_monitoring_but_drift_still_does(monitoring) -> None:
    """A calendar feature warns at most unless its nulls moved; young data warns only."""
    reference = {
        "features": {"tenure_days": {"edges": [100.0], "shares": [0.5, 0.5, 0.0]}},
        "score": {"edges": [0.5], "shares": [0.5, 0.5, 0.0]},
    }
    people = [f"p{i}" for i in range(8)]
    scores = pd.DataFrame({"person_id": people, "score": [0.1, 0.2, 0.3, 0.4] + [0.9] * 4})
    scores["model_version"] = "purchase-xgboost-abc"
    # 60 days on, the population is older: 1/8 below the reference's median instead of 1/2
    features = pd.DataFrame({"person_id": people, "tenure_days": [50] + [900] * 7})
    champion = pd.Series({**champion_row(reference), "validation_date": dt.date(2026, 8, 1)})
    today = dt.date(2026, 9, 30)
    settings = {
        "psi_warn": 0.1,
        "psi_fail": 0.25,
        "psi_epsilon": 1e-4,
        "excluded_features": set(),
        "calendar_features": {"tenure_days"},
        "young_history_days": 365,
        "calendar_null_shift": 0.1,
    }

    def rows(feats, scrs, **over):
        out = monitoring.population_stability(champion, scrs, feats, {**settings, **over}, today)
        return {r["subject"]: r for r in out}

    older = rows(features, scores)
    assert older["tenure_days"]["value"] > 0.25  # a shift the fail threshold would catch
    assert older["tenure_days"]["status"] == "warn"
    assert "moves with the 60 days" in older["tenure_days"]["note"]
    # not a calendar feature: the same shift fails
    assert rows(features, scores, calendar_features=set())["tenure_days"]["status"] == "fail"

    # a broken calendar feature (all null) and a drifting score still fail on mature data
    shifted = scores.assign(score=0.9)
    broken = rows(features.assign(tenure_days=np.nan), shifted)
    assert (
        broken["tenure_days"]["status"] == "fail" and "nulls moved" in broken["tenure_days"]["note"]
    )
    assert broken["score"]["status"] == "fail"

    # young data (it begins 300 - 60 = 240 days before the reference date): warns only, says why
    young = rows(features.assign(tenure_days=[50] + [300] * 7), shifted)
    assert young["score"]["status"] == "warn" and "young history" in young["score"]["note"]
    assert monitoring.calendar_gap_days(champion, None) == 0
