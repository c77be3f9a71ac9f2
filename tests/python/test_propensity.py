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
from mailroom.pymodels import propensity


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
            ["run", "--select", "int_propensity__model_versions fct_propensity_scores"], target="ci"
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
            target="ci",
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
