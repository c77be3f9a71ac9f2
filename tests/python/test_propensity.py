"""Propensity models: the time split, training, promotion and reproducible scoring.

Unit tests fit the models' pure functions on small synthetic frames; the rest
read the session's built world (tests/python/conftest.py) or build copies of it.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import load_model_module, using_warehouse

from mailroom import runner
from mailroom.generator import WorldConfig, generate_world
from mailroom.pymodels import btyd, propensity


@pytest.fixture(scope="module")
def training():
    return load_model_module(
        "python_models/intermediate/propensity/int_propensity__model_versions.py"
    )


@pytest.fixture(scope="module")
def scoring():
    return load_model_module("python_models/marts/propensity/fct_propensity_scores.py")


SETTINGS = {
    "algorithms": ["logistic_regression", "xgboost"],
    "xgboost_params": {"n_estimators": 40, "max_depth": 3, "n_jobs": 1, "random_state": 1},
    "logistic_params": {"max_iter": 500},
    "promotion_metric": "roc_auc",
    "psi_bins": 10,
}
SCORING = pd.Timestamp("2026-04-01")
FEATURES = ["days_since_last_order", "visits_90d", "recency_score", "frequency_score", "noise"]


def synthetic(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Two as-of dates of people whose label depends on recency and visits."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(120, rows)
    recency[rng.random(rows) < 0.3] = np.nan  # never ordered
    visits = rng.poisson(3, rows).astype(float)
    logit = -1.5 - 0.01 * np.nan_to_num(recency, nan=400) + 0.5 * visits
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame(
        {
            "model_name": "purchase",
            "person_id": [f"p{i:05d}" for i in range(rows)],
            "as_of_date": np.where(np.arange(rows) < rows * 0.7, "2026-01-01", "2026-03-01"),
            "split": np.where(np.arange(rows) < rows * 0.7, "train", "validation"),
            "label": label,
            "days_since_last_order": recency,
            "visits_90d": visits,
            "recency_score": np.where(np.isnan(recency), np.nan, 5 - np.minimum(recency // 60, 4)),
            "frequency_score": np.where(np.isnan(recency), np.nan, rng.integers(1, 6, rows)),
            "noise": rng.normal(size=rows),
        }
    )
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


@pytest.fixture(scope="module")
def trained(training):
    return training.train_all(
        synthetic(), FEATURES, SETTINGS, None, dt.datetime(2026, 3, 2), SCORING
    )


# --------------------------------------------------------------------------- units


def test_every_candidate_is_recorded_with_figures_and_one_is_promoted(trained) -> None:
    assert sorted(trained["algorithm"]) == ["logistic_regression", "rfm_baseline", "xgboost"]
    assert trained["is_promoted"].sum() == 1
    promoted = trained[trained["is_promoted"]].iloc[0]
    assert promoted["algorithm"] != "rfm_baseline"
    assert promoted["roc_auc"] > promoted["baseline_roc_auc"]
    assert (trained["training_fingerprint"].nunique(), trained["model_version"].nunique()) == (1, 3)
    for _, row in trained.iterrows():
        assert len(json.loads(row["lift_by_decile"])) == 10
        bins = json.loads(row["calibration"])
        assert sum(b["rows"] for b in bins) == row["validation_rows"]
        assert 0 < row["brier"] < 0.25 and row["log_loss"] > 0
        reference = json.loads(row["artifact"])["reference"]
        assert (
            set(reference["features"]) == set(json.loads(row["features"]))
            or row["algorithm"] == "rfm_baseline"
        )
        assert abs(sum(reference["score"]["shares"]) - 1) < 1e-9


def test_the_same_data_and_settings_train_nothing_new(training, trained) -> None:
    again = training.train_all(
        synthetic(), FEATURES, SETTINGS, trained, dt.datetime(2026, 3, 3), SCORING
    )
    assert again.empty
    changed = synthetic(seed=1)
    assert not training.train_all(
        changed, FEATURES, SETTINGS, trained, dt.datetime(2026, 3, 3), SCORING
    ).empty


def test_a_better_champion_keeps_its_place(training, trained) -> None:
    # A champion that knew the labels: nothing trained on the data can beat it.
    frame = synthetic(seed=2)
    cheat = trained[trained["is_promoted"]].copy()
    cheat["artifact"] = json.dumps(
        {"kind": "rfm_baseline", "features": [], "cells": {}, "default": 0.5}
    )
    cheat["model_version"] = "purchase-cheat"
    out = training.train_all(frame, FEATURES, SETTINGS, cheat, dt.datetime(2026, 3, 4), SCORING)
    # A constant champion (ROC-AUC 0.5) is beaten...
    assert out["is_promoted"].sum() == 1
    assert (out["champion_version"] == "purchase-cheat").all()
    assert out["champion_roc_auc"].iloc[0] == pytest.approx(0.5)
    # ...one that knew the labels is not.
    frame["oracle"] = frame["label"].astype(float)
    perfect = cheat.copy()
    perfect["artifact"] = json.dumps(
        {
            "kind": "logistic_regression",
            "features": ["oracle"],
            "mean": [0.0],
            "scale": [1.0],
            "coef": [10.0],
            "intercept": -5.0,
        }
    )
    out = training.train_all(frame, FEATURES, SETTINGS, perfect, dt.datetime(2026, 3, 5), SCORING)
    assert out["champion_roc_auc"].iloc[0] == pytest.approx(1.0)
    assert not out["is_promoted"].any()
    assert out["promotion_reason"].str.contains("champion").any()


def test_xgboost_reasons_add_up_to_the_score(trained) -> None:
    artifact = json.loads(trained[trained["algorithm"] == "xgboost"].iloc[0]["artifact"])
    frame = synthetic(200, seed=4)
    p = propensity.predict(artifact, frame)
    contrib = propensity.contributions(artifact, frame)
    booster = propensity.load_booster(artifact)
    import xgboost

    x = propensity.numeric_matrix(frame, artifact["features"]).to_numpy()
    bias = booster.predict(xgboost.DMatrix(x, missing=np.nan), pred_contribs=True)[:, -1]
    np.testing.assert_allclose(contrib.sum(axis=1) + bias, np.log(p / (1 - p)), atol=1e-4)


def test_deciles_tiers_and_reasons(scoring) -> None:
    scores = np.array([0.9, 0.1, 0.5, 0.5, 0.2, 0.8, 0.3, 0.7, 0.6, 0.4])
    deciles = scoring.deciles(scores, np.array([f"p{i}" for i in range(10)]))
    assert deciles[0] == 1 and deciles[1] == 10 and sorted(deciles) == list(range(1, 11))
    tiers = scoring.tiers(scores, {"high": 0.8, "medium": 0.3, "low": 0.0})
    assert list(tiers[:3]) == ["high", "low", "medium"]
    assert scoring.tiers(np.array([0.8]), {"high": 0.8, "low": 0.0})[0] == "low"  # strictly above
    contrib = pd.DataFrame({"a": [0.5, -1.0], "b": [0.2, -0.1], "c": [-0.3, 0.4]})
    values = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, 3.0], "c": [5.0, 6.0]})
    reasons = scoring.top_reasons(contrib, values)
    assert [r["feature"] for r in reasons[0]] == ["a", "b"]
    assert reasons[0][1]["value"] is None
    assert [r["feature"] for r in reasons[1]] == ["c"]


def test_a_version_trained_for_a_later_date_never_scores_an_earlier_one(trained) -> None:
    later = trained.copy()
    later["model_version"] = later["model_version"] + "-later"
    later["data_as_of_date"] = pd.Timestamp("2026-06-01")
    later["promoted_at"] = pd.Timestamp("2026-06-02")
    versions = pd.concat([trained, later], ignore_index=True)
    # a backfill at the original date keeps the version whose data ended by then...
    (backfill,) = propensity.eligible_champions(versions, SCORING)["model_version"]
    assert not backfill.endswith("-later")
    # ...and a later date gets the later one
    (today,) = propensity.eligible_champions(versions, pd.Timestamp("2026-06-30"))["model_version"]
    assert today.endswith("-later")


def test_scoring_refuses_a_champion_whose_features_are_gone(scoring, trained) -> None:
    champion = trained[trained["is_promoted"]].iloc[0]
    people = synthetic(50).drop(columns=["visits_90d"])
    with pytest.raises(ValueError, match="no longer exist: visits_90d"):
        scoring.score_model(champion, people, {})


def test_tied_scores_do_not_depend_on_row_order(training) -> None:
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0] * 10)
    constant = np.full(len(y), 0.2)
    assert training.lift_by_decile(y, constant) == [1.0] * 10
    assert {b["observed_rate"] for b in training.calibration_bins(y, constant)} == {0.2}


def test_a_feature_without_any_value_is_left_out(training) -> None:
    frame = synthetic(seed=5)
    frame["visits_90d"] = np.nan  # no web data at all
    out = training.train_all(frame, FEATURES, SETTINGS, None, dt.datetime(2026, 3, 6), SCORING)
    assert len(out) == 3
    assert all("visits_90d" not in json.loads(f) for f in out["features"])


# --------------------------------------------------------------------------- Pareto/NBD in the models

BTYD_DATES = ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-07-31"]
BTYD_SCORING = pd.Timestamp("2025-08-31")
BTYD_FEATURES = [
    "days_since_last_order",
    "orders_lifetime",
    "visits_30d",
    "recency_score",
    "frequency_score",
    "tenure_days",
]
BTYD_SETTINGS = {**SETTINGS, "algorithms": ["logistic_regression", "xgboost", "pareto_nbd"]}


def order_histories(people: int, seed: int = 1) -> list[tuple]:
    """(first seen, order times, death) of people who buy at Poisson rates until they lapse.

    Half of them order at birth (an hour after being first seen); rates and
    lifetimes vary across people as the Pareto/NBD assumes.
    """
    rng = np.random.default_rng(seed)
    start, end = pd.Timestamp("2023-01-01"), pd.Timestamp("2025-10-31")
    first_seen = start + pd.to_timedelta(rng.uniform(0, (end - start).days - 60, people), unit="D")
    rate = rng.gamma(0.8, 1 / 30, people)
    life = np.minimum(rng.exponential(1 / rng.gamma(1.0, 1 / 250, people)), 10_000.0)
    histories = []
    for i in range(people):
        span = min(life[i], (end - first_seen[i]).days)
        times = np.sort(rng.uniform(0, span, rng.poisson(rate[i] * span)))
        if rng.random() < 0.5:
            times = np.concatenate([[1 / 24], times])
        order_at = first_seen[i] + pd.to_timedelta(times, unit="D")
        histories.append((first_seen[i], order_at, first_seen[i] + pd.Timedelta(days=life[i])))
    return histories


def history_snapshot(histories: list[tuple], as_of_date: str, horizon: int = 30) -> pd.DataFrame:
    """The point-in-time features of everyone seen by the as-of date, and orders in the horizon.

    visits_30d is web data that knows who is still alive (what BTYD cannot see).
    """
    rng = np.random.default_rng(pd.Timestamp(as_of_date).toordinal())
    as_of_at = pd.Timestamp(as_of_date) + pd.Timedelta(days=1)
    end_at = as_of_at + pd.Timedelta(days=horizon)
    rows = []
    for i, (seen, order_at, death) in enumerate(histories):
        if seen >= as_of_at:
            continue
        past = order_at[order_at < as_of_at]
        rows.append(
            {
                "person_id": f"p{i:05d}",
                "as_of_date": as_of_at.date() - dt.timedelta(days=1),
                "as_of_at": as_of_at,
                "first_seen_at": seen,
                "first_order_at": past.min() if len(past) else pd.NaT,
                "last_order_at": past.max() if len(past) else pd.NaT,
                "orders_lifetime": len(past),
                "avg_order_value": 50.0 if len(past) else np.nan,
                "tenure_days": (as_of_at - seen).days,
                "days_since_first_order": (as_of_at - past.min()).days if len(past) else np.nan,
                "days_since_last_order": (as_of_at - past.max()).days if len(past) else np.nan,
                "visits_30d": float(rng.poisson(4.0 if death > as_of_at else 0.3)),
                "orders_in_window": int(((order_at >= as_of_at) & (order_at < end_at)).sum()),
            }
        )
    frame = pd.DataFrame(rows)
    buyers = frame["orders_lifetime"] > 0
    for score, column, sign in (
        ("recency_score", "days_since_last_order", -1),
        ("frequency_score", "orders_lifetime", 1),
    ):
        rank = (sign * frame.loc[buyers, column]).rank(pct=True, method="min")
        frame[score] = np.nan
        frame.loc[buyers, score] = np.minimum(
            5, 1 + np.floor(5 * (rank - rank.min()) / (1 - rank.min()))
        )
    return frame


def btyd_training(histories: list[tuple], model: str = "purchase") -> pd.DataFrame:
    """A training set of the model over BTYD_DATES (the last one validation), with the BTYD inputs."""
    horizon = 30 if model == "purchase" else 90
    parts = []
    for i, date in enumerate(BTYD_DATES):
        part = history_snapshot(histories, date, horizon)
        if model == "churn":  # its population: an order in the last 365 days
            part = part[part["days_since_last_order"] <= 365]
        part["split"] = "validation" if i == len(BTYD_DATES) - 1 else "train"
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    ordered = frame.pop("orders_in_window") > 0
    frame["model_name"] = model
    frame["horizon_days"] = horizon
    frame["is_positive_without_order"] = model == "churn"
    frame["label"] = (~ordered if model == "churn" else ordered).astype(int)
    return frame


def btyd_base(histories: list[tuple]) -> pd.DataFrame:
    """Everyone at every as-of date (the feature history): what the BTYD feature is fitted on."""
    return pd.concat([history_snapshot(histories, d) for d in BTYD_DATES], ignore_index=True)


@pytest.fixture(scope="module")
def histories():
    return order_histories(2500)


@pytest.fixture(scope="module")
def base(histories):
    return btyd_base(histories)


@pytest.fixture(scope="module")
def btyd_frame(histories):
    return btyd_training(histories)


def train_btyd(training, frame, previous=None, settings=BTYD_SETTINGS, **kwargs):
    return training.train_all(
        frame, BTYD_FEATURES, settings, previous, dt.datetime(2025, 9, 1), BTYD_SCORING, **kwargs
    )


@pytest.fixture(scope="module")
def btyd_trained(training, btyd_frame, base):
    return train_btyd(training, btyd_frame, base=base)


def test_the_btyd_feature_uses_each_dates_own_rows(base) -> None:
    frame = base[base["as_of_date"].astype(str).isin(BTYD_DATES[:2])].reset_index(drop=True)
    first = frame["as_of_date"].astype(str) == BTYD_DATES[0]
    p = btyd.btyd_purchase_probability(frame, 30)
    assert p.index.equals(frame.index) and p.between(0, 1).all()
    # fitted on everyone of the date (base), applied to some of them: the same values
    some = frame.sample(frac=0.3, random_state=1)
    np.testing.assert_allclose(btyd.btyd_purchase_probability(some, 30, base=frame), p[some.index])
    # a later date's rows changed (fewer people, other histories): the earlier date's values stay
    later = (
        frame[~first]
        .sample(frac=0.5, random_state=0)
        .assign(orders_lifetime=lambda f: f["orders_lifetime"] * 2)
    )
    changed = pd.concat([frame[first], later])
    again = btyd.btyd_purchase_probability(frame[first], 30, base=changed)
    np.testing.assert_allclose(again, p[first])
    # in any row order
    reversed_rows = btyd.btyd_purchase_probability(frame.iloc[::-1], 30)
    np.testing.assert_allclose(reversed_rows.sort_index(), p)
    # a recent frequent buyer ranks far above a lapsed one with the same orders
    as_of_at = pd.Timestamp(frame.loc[first, "as_of_at"].iloc[0])
    two = pd.DataFrame(
        {
            "person_id": ["recent", "lapsed"],
            "as_of_date": frame.loc[first, "as_of_date"].iloc[0],
            "as_of_at": as_of_at,
            "first_seen_at": as_of_at - pd.Timedelta(days=400),
            "first_order_at": as_of_at - pd.Timedelta(days=399),
            "last_order_at": [as_of_at - pd.Timedelta(days=3), as_of_at - pd.Timedelta(days=300)],
            "orders_lifetime": 8,
            "avg_order_value": 50.0,
        }
    )
    recent, lapsed = btyd.btyd_purchase_probability(two, 30, base=frame)
    assert recent > 10 * lapsed


def test_pareto_nbd_is_a_candidate_scored_by_the_feature_itself(
    btyd_trained, btyd_frame, base
) -> None:
    from sklearn.metrics import roc_auc_score

    assert sorted(btyd_trained["algorithm"]) == [
        "logistic_regression",
        "pareto_nbd",
        "rfm_baseline",
        "xgboost",
    ]
    row = btyd_trained[btyd_trained["algorithm"] == "pareto_nbd"].iloc[0]
    artifact = json.loads(row["artifact"])
    assert artifact["kind"] == "btyd" and artifact["outcome"] == "order"
    assert artifact["features"] == [btyd.BTYD_FEATURE] and artifact["horizon_days"] == 30
    assert artifact["btyd"]["horizon_days"] == 30 and artifact["btyd"]["model"] == "pareto_nbd"
    validation = btyd_frame[btyd_frame["split"] == "validation"]
    p = btyd.btyd_purchase_probability(validation, 30, base=base)
    assert row["roc_auc"] == pytest.approx(roc_auc_score(validation["label"], p), abs=1e-12)
    # the others may use the feature
    for algorithm in ("logistic_regression", "xgboost"):
        features = json.loads(
            btyd_trained.loc[btyd_trained["algorithm"] == algorithm, "features"].iloc[0]
        )
        assert btyd.BTYD_FEATURE in features
    # the promoted model is the best on the validation rows: at least Pareto/NBD's figure
    (promoted,) = btyd_trained.loc[btyd_trained["is_promoted"], "roc_auc"]
    assert promoted == btyd_trained["roc_auc"].max() >= row["roc_auc"]


def test_without_web_signal_the_champion_is_still_at_least_pareto_nbd(
    training, btyd_frame, base
) -> None:
    frame = btyd_frame.drop(columns=["visits_30d"])
    features = [f for f in BTYD_FEATURES if f != "visits_30d"]
    out = training.train_all(
        frame, features, BTYD_SETTINGS, None, dt.datetime(2025, 9, 1), BTYD_SCORING, base=base
    )
    figures = out.set_index("algorithm")["roc_auc"]
    (promoted,) = out.loc[out["is_promoted"], "algorithm"]
    assert figures[promoted] >= figures["pareto_nbd"] and figures[promoted] == figures.max()
    # the next run's candidates compete with that champion on the same validation rows
    again = train_btyd(training, btyd_frame, out, base=base)
    champion = out.loc[out["is_promoted"], "model_version"].iloc[0]
    assert (again["champion_version"] == champion).all()
    assert again["champion_roc_auc"].iloc[0] == pytest.approx(figures[promoted])
    if again["is_promoted"].any():
        assert again.loc[again["is_promoted"], "roc_auc"].iloc[0] >= figures[promoted]


def test_churn_pareto_nbd_scores_one_minus_the_probability(training, histories, base) -> None:
    from sklearn.metrics import roc_auc_score

    frame = btyd_training(histories, "churn")
    validation = frame[frame["split"] == "validation"]
    # fitted on everyone at the date, not on the recent buyers churn scores
    p = btyd.btyd_purchase_probability(validation, 90, base=base)
    for data in (frame, frame.drop(columns=["is_positive_without_order"])):
        # the training set's flag, or read from the train rows
        out = train_btyd(training, data, base=base)
        row = out[out["algorithm"] == "pareto_nbd"].iloc[0]
        assert json.loads(row["artifact"])["outcome"] == "no_order"
        assert row["roc_auc"] == pytest.approx(roc_auc_score(validation["label"], 1 - p), abs=1e-12)
        assert row["roc_auc"] > 0.5


def test_pareto_nbd_needs_its_inputs(training) -> None:
    with pytest.raises(ValueError, match="pareto_nbd candidate needs the columns"):
        training.train_all(
            synthetic(), FEATURES, BTYD_SETTINGS, None, dt.datetime(2026, 3, 2), SCORING
        )


def test_scoring_computes_the_btyd_feature_for_the_champion(
    scoring, btyd_trained, histories
) -> None:
    people = history_snapshot(histories, str(BTYD_SCORING.date())).drop(
        columns=["orders_in_window"]
    )
    # a population smaller than everyone: the feature is fitted on everyone all the same
    members = people[people["orders_lifetime"] > 0]
    population = pd.DataFrame({"model_name": "purchase", "person_id": members["person_id"]})
    expected = btyd.btyd_purchase_probability(members, 30, base=people)
    expected.index = members["person_id"]
    for algorithm in ("pareto_nbd", "xgboost"):
        versions = btyd_trained.copy()
        versions["is_promoted"] = versions["algorithm"] == algorithm
        versions["promoted_at"] = versions["trained_at"].where(versions["is_promoted"])
        scores = scoring.score_all(versions, people, population, {}, dt.datetime(2025, 9, 1))
        scores = scores.set_index("person_id").loc[members["person_id"]]
        assert len(scores) == len(members) and (scores["algorithm"] == algorithm).all()
        assert scores["score"].between(0, 1).all()
        artifact = json.loads(versions.loc[versions["is_promoted"], "artifact"].iloc[0])
        with_feature = members.assign(**{btyd.BTYD_FEATURE: expected.to_numpy()})
        np.testing.assert_allclose(scores["score"], propensity.predict(artifact, with_feature))
        if algorithm == "pareto_nbd":
            np.testing.assert_allclose(scores["score"], expected)
            # its one reason is the feature, for people above the training rate
            above = scores["score"] > artifact["base_rate"]
            assert above.any() and (scores.loc[above, "reason_1"] == btyd.BTYD_FEATURE).all()
            assert scores.loc[~above, "reason_1"].isna().all() and scores["reason_2"].isna().all()
        else:
            assert scores["reason_1"].notna().any()


def test_monitoring_measures_the_btyd_feature(btyd_trained, histories) -> None:
    monitoring = load_model_module("python_models/marts/propensity/rpt_model_monitoring.py")
    people = history_snapshot(histories, str(BTYD_SCORING.date())).drop(
        columns=["orders_in_window"]
    )
    champion = btyd_trained[btyd_trained["algorithm"] == "xgboost"].iloc[0]
    scores = pd.DataFrame(
        {"person_id": people["person_id"], "score": 0.2, "model_version": champion["model_version"]}
    )
    settings = {"psi_warn": 0.1, "psi_fail": 0.25, "psi_epsilon": 1e-4, "excluded_features": set()}
    rows = {
        r["subject"]: r for r in monitoring.population_stability(champion, scores, people, settings)
    }
    feature = rows[btyd.BTYD_FEATURE]
    assert "missing" not in (feature["note"] or "") and feature["value"] < 0.25


# --------------------------------------------------------------------------- small data


def test_a_small_history_is_flagged_with_every_reason(training, histories) -> None:
    people = history_snapshot(histories[:40], "2025-08-31")
    facts = training.data_facts(people)
    frame = btyd_training(histories[:120])
    frame = frame[frame["as_of_date"].astype(str).isin(BTYD_DATES[-2:])]
    out = train_btyd(training, frame, facts=facts)
    assert len(out) == 4 and out["is_small_data"].all()
    assert out["small_data_reason"].nunique() == 1
    reason = out["small_data_reason"].iloc[0]
    for threshold in (
        "small_data_min_buyers",
        "small_data_min_repeat_buyers",
        "small_data_min_training_dates",
        "small_data_min_positives",
        "small_data_min_validation_positives",
    ):
        assert threshold in reason, threshold
    # the data-level ones this history passes, each failed on purpose
    one_cohort = people.assign(
        first_order_at=pd.Timestamp("2025-08-05"),
        days_since_first_order=27,
        days_since_last_order=people["days_since_last_order"] + 60,
    )
    reasons = training.small_data_reasons(training.data_facts(one_cohort), {})
    for threshold in (
        "small_data_min_cohorts",
        "small_data_max_days_since_last_order",
        "small_data_min_history_days",
    ):
        assert any(threshold in r for r in reasons), threshold
    nobody = training.data_facts(people.assign(orders_lifetime=0))
    assert any(r.startswith("no order at all") for r in training.small_data_reasons(nobody, {}))


def test_a_big_enough_history_is_not_flagged(training, histories, btyd_frame, base) -> None:
    facts = training.data_facts(history_snapshot(histories, "2025-08-31"))
    assert facts["buyers"] >= 500 and facts["cohorts"] >= 3
    out = train_btyd(training, btyd_frame, facts=facts, base=base)
    assert not out["is_small_data"].any() and out["small_data_reason"].isna().all()
    # the thresholds come from settings (the vars), and only label: the same fingerprint
    strict = {**BTYD_SETTINGS, "small_data": {"small_data_min_buyers": 10**6}}
    flagged = train_btyd(training, btyd_frame, settings=strict, facts=facts, base=base)
    assert flagged["small_data_reason"].str.contains("small_data_min_buyers: 1e[+]06").all()
    assert set(flagged["training_fingerprint"]) == set(out["training_fingerprint"])


def test_the_summary_shows_the_champions_small_data_reason(capsys) -> None:
    champion = (
        "select 'purchase' as model_name, 'purchase-v1' as model_version, 0.8 as roc_auc, "
        "0.7 as baseline_roc_auc, 100 as validation_rows, true as is_champion"
    )
    with duckdb.connect() as con:
        con.execute("create schema marts")
        # a registry trained before the flag: no column, no line
        con.execute(f"create table marts.dim_model_versions as {champion}")
        runner.print_models(con)
        assert "small data" not in capsys.readouterr().out
        con.execute(
            "create or replace table marts.dim_model_versions as "
            f"select *, '40 people with a standing order' as small_data_reason from ({champion})"
        )
        runner.print_models(con)
    out = capsys.readouterr().out
    assert "purchase-v1" in out and "small data: 40 people with a standing order" in out


# --------------------------------------------------------------------------- the built world


def test_no_label_window_overlaps_the_features_it_is_judged_against(built_world) -> None:
    examples = built_world.df(
        """
        select e.*, d.as_of_date as scoring_date
        from intermediate.int_propensity__examples as e
        cross join (select as_of_date from intermediate.int_customers__feature_dates where is_scoring_date) as d
        """
    )
    features_cutoff = pd.to_datetime(examples["as_of_date"]) + pd.Timedelta(days=1)
    # a label starts where its features end
    assert (pd.to_datetime(examples["label_window_start_at"]) == features_cutoff).all()
    end = pd.to_datetime(examples["label_window_end_at"])
    validation_cutoff = pd.to_datetime(examples["validation_date"]) + pd.Timedelta(days=1)
    scoring_cutoff = pd.to_datetime(examples["scoring_date"]) + pd.Timedelta(days=1)
    train = examples["split"] == "train"
    validation = examples["split"] == "validation"
    assert train.any() and validation.any()
    # training labels end before the validation rows' features; validation labels by scoring
    assert (end[train] <= validation_cutoff[train]).all()
    assert (end[validation] <= scoring_cutoff[validation]).all()
    # and training labels know only what the validation date knew (late refunds, late loads)
    cutoff = pd.to_datetime(examples["label_cutoff_at"])
    assert (cutoff[train] == validation_cutoff[train]).all()
    assert (cutoff[~train] == scoring_cutoff[~train]).all()
    assert (
        examples.loc[examples["split"].isin(["train", "validation", "excluded"]), "label"]
        .notna()
        .all()
    )
    for model, group in examples.groupby("model_name"):
        train_dates = set(group.loc[group["split"] == "train", "as_of_date"])
        validation_dates = set(group.loc[group["split"] == "validation", "as_of_date"])
        assert len(validation_dates) == 1, model
        assert max(train_dates) < min(validation_dates), model
    # the registry says the same
    versions = built_world.df("select * from marts.dim_model_versions")
    assert (versions["train_to_date"] < versions["validation_date"]).all()


def test_every_customer_is_scored_by_a_champion(built_world) -> None:
    champions = built_world.df("select * from marts.dim_model_versions where is_champion")
    assert sorted(champions["model_name"]) == ["churn", "purchase"]
    assert (champions["roc_auc"] > champions["baseline_roc_auc"]).all() or (
        champions["algorithm"] == "rfm_baseline"
    ).any()
    (unscored,) = built_world.query(
        """
        select count(*) from marts.dim_customers as c
        left join marts.fct_propensity_scores as s
            on c.person_id = s.person_id and s.model_name = 'purchase'
        where s.person_id is null
        """
    )[0]
    assert unscored == 0
    (wrong_version,) = built_world.query(
        """
        select count(*) from marts.fct_propensity_scores as s
        inner join marts.dim_model_versions as v on s.model_version = v.model_version
        where not v.is_champion
        """
    )[0]
    assert wrong_version == 0


def test_reasons_read_in_words(built_world) -> None:
    """Every reason has its feature's label from the catalog, with its value."""
    labels = dict(
        built_world.query(
            "select feature_name, feature_label from intermediate.int_customers__feature_catalog"
        )
    )
    assert labels["days_since_last_order"] == "days since the last order"
    assert labels["orders_30d"] == "orders in the last 30 days"
    assert not [label for label in labels.values() if "_" in label]
    labels[btyd.BTYD_FEATURE] = btyd.BTYD_FEATURE_LABEL
    rows = built_world.query(
        "select reasons, reasons_text from marts.fct_propensity_scores where reason_1 is not null"
    )
    assert rows
    for reasons, text in rows:
        parsed = json.loads(reasons)
        assert [r["label"] for r in parsed] == [labels[r["feature"]] for r in parsed]
        assert text == "; ".join(f"{r['label']}: {r['value']}" for r in parsed)


def test_scoring_reproduces_the_same_scores(built_world, tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_world.warehouse, warehouse)
    query = "select person_id, model_name, score, model_version, reasons from marts.fct_propensity_scores"
    before = built_world.df(query).sort_values(["model_name", "person_id"]).reset_index(drop=True)
    versions_before = built_world.query(
        "select count(*) from intermediate.int_propensity__model_versions"
    )
    with using_warehouse(warehouse):
        result = runner.invoke_dbt(
            ["run", "--select", "int_propensity__model_versions fct_propensity_scores"],
            target="dev",
        )
    assert result.success, result.exception
    with duckdb.connect(str(warehouse)) as con:
        after = (
            con.execute(query).df().sort_values(["model_name", "person_id"]).reset_index(drop=True)
        )
        # the same data trains no new version...
        assert con.execute(
            "select count(*) from intermediate.int_propensity__model_versions"
        ).fetchall() == (versions_before)
    # ...and the same version scores exactly the same
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.slow
def test_a_transactions_only_world_still_trains_and_scores(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with using_warehouse(warehouse):
        generate_world(
            WorldConfig(people=800, chunk_size=800, seed=5), warehouse=warehouse, truth_dir=tmp_path
        )
        with duckdb.connect(str(warehouse)) as con:
            for table in ("web_events", "esp_email_events", "esp_subscribers", "esp_campaigns"):
                con.execute(f"delete from raw.{table}")
        # the models and what they need, with the tests of those nodes
        result = runner.dbt_build(
            select="+fct_propensity_scores +dim_model_versions",
            target="dev",
            indirect_selection="cautious",
        )
    failed = {n.unique_id: n.message for n in result.nodes if n.status not in ("success", "pass")}
    assert result.success, failed
    with duckdb.connect(str(warehouse)) as con:
        champions = con.execute(
            "select model_name, feature_importance from marts.dim_model_versions where is_champion"
        ).df()
        scored = con.execute(
            "select model_name, count(*) from marts.fct_propensity_scores group by 1"
        ).fetchall()
        people = con.execute(
            "select count(*) from intermediate.int_customers__features"
        ).fetchone()[0]
    assert sorted(champions["model_name"]) == ["churn", "purchase"]
    web_or_email = (
        "visits",
        "product_views",
        "cart_adds",
        "email_",
        "open_rate",
        "click_rate",
        "days_since_last_visit",
    )
    for importance in champions["feature_importance"]:
        used = {i["feature"] for i in json.loads(importance) if i["importance"] > 0}
        assert used and not any(f.startswith(web_or_email) for f in used), used
    assert dict(scored)["purchase"] == people


def test_the_models_are_scored_against_the_truth(built_world) -> None:
    from mailroom import propensity_score, value_score

    with duckdb.connect(str(built_world.warehouse)) as con:
        score = propensity_score.score_propensity(con, built_world.truth)
        value = value_score.score_customer_value(con, built_world.truth)
    assert score.persons == built_world.query("select count(*) from marts.dim_customers")[0][0]
    # the oracle knows the latent rates; the model beats guessing and the recency baseline
    assert score.oracle_roc_auc > score.model_roc_auc > 0.6
    assert score.model_roc_auc > score.recency_roc_auc
    assert 0.5 < score.feature_ceiling_roc_auc < 1 and 0.5 < score.probability_ceiling_roc_auc < 1
    assert abs(value.orders_relative_error) < 0.25
    text = propensity_score.markdown(score, "small world")
    assert "share of oracle" in text and "feature ceiling" in text
