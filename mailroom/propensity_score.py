"""Score the purchase and churn models (fct_propensity_scores) against the sample world's truth.

The truth (truth_dir/people.parquet) holds per true person whether they
really bought in the 30 days after the as-of date (`purchased_next_30d`),
the simulation's true probability of it (`purchase_probability_next_30d`,
the "oracle") and whether they bought nothing in the next 90 days
(`churned_next_90d`). Every scored person is mapped to the true person
holding the majority of their source records (value_score.person_truth).

Figures, on the same rows for every score:

- per person: every person scored by the purchase model, with their true
  person's outcome. The model's ROC-AUC, the oracle's (the true
  probability), and the recency baseline's (fewer days since the last order
  scores higher; never-buyers lowest).
- per true person: the scores of the persons a true person was split into
  combined as the chance that any of them buys (1 - prod(1 - p)).
- feature ceilings: the ROC-AUC of gradient-boosted models fitted, by 3-fold
  cross-validation, on the truth of the scoring date itself with the same
  point-in-time features: one on the outcomes (who bought), one on the true
  probabilities (a noise-free target no real model ever has). No model
  trained on the warehouse's own history can expect to beat them: they say
  how much of the oracle's edge the warehouse's data can reveal at all (the
  oracle knows each person's latent purchase rate and whether they are still
  "alive").
- churn: ROC-AUC of the churn score against `churned_next_90d` among the
  people the churn model scores, next to the recency baseline.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from mailroom.value_score import person_truth


@dataclass
class PropensityScore:
    persons: int
    positives: int
    model_roc_auc: float
    oracle_roc_auc: float
    recency_roc_auc: float
    true_people: int
    model_roc_auc_true_people: float
    oracle_roc_auc_true_people: float
    feature_ceiling_roc_auc: float
    probability_ceiling_roc_auc: float
    churn_persons: int
    churn_roc_auc: float
    churn_recency_roc_auc: float
    purchase_version: str
    churn_version: str
    validation_roc_auc: float
    validation_baseline_roc_auc: float

    @property
    def share_of_oracle(self) -> float:
        return self.model_roc_auc / self.oracle_roc_auc

    def as_dict(self) -> dict:
        return {**asdict(self), "share_of_oracle": self.share_of_oracle}


def _auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype="int64")
    return (
        float(roc_auc_score(y, np.asarray(p, dtype="float64")))
        if 0 < y.sum() < len(y)
        else float("nan")
    )


def feature_ceiling(
    features: pd.DataFrame,
    names: list[str],
    label: pd.Series,
    target: pd.Series | None = None,
    seed: int = 0,
) -> float:
    """ROC-AUC against `label` of 3-fold cross-validated XGBoost fitted on the truth (an upper bound).

    Fitted on the labels themselves, or, with `target`, regressed on it (the
    true probability).
    """
    import xgboost
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = features[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    y = label.to_numpy(dtype="int64")
    params = {"n_estimators": 300, "max_depth": 4, "learning_rate": 0.05, "subsample": 0.8}
    folds = list(StratifiedKFold(3, shuffle=True, random_state=seed).split(x, y))
    if target is None:
        model = xgboost.XGBClassifier(**params, n_jobs=2, random_state=seed)
        p = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    else:
        model = xgboost.XGBRegressor(**params, n_jobs=2, random_state=seed)
        p = cross_val_predict(model, x, target.to_numpy(dtype="float64"), cv=folds)
    return _auc(y, p)


def score_propensity(
    con: duckdb.DuckDBPyConnection, truth_dir: Path, ceilings: bool = True
) -> PropensityScore:
    """The figures above; `ceilings=False` skips the (costly) feature ceilings (reported as NaN)."""
    truth = pd.read_parquet(truth_dir / "people.parquet")
    mapping = person_truth(con, truth_dir)
    features = con.execute("select * from intermediate.int_customers__features").df()
    names = list(
        con.execute("select feature_name from intermediate.int_customers__feature_catalog").df()[
            "feature_name"
        ]
    )
    scores = con.execute(
        "select person_id, model_name, score, model_version from marts.fct_propensity_scores"
    ).df()
    versions = (
        con.execute("select * from marts.dim_model_versions where is_champion")
        .df()
        .set_index("model_name")
    )

    purchase = (
        scores[scores["model_name"] == "purchase"]
        .merge(mapping, on="person_id")
        .merge(truth, on="true_person_id")
        .merge(features, on="person_id")
    )
    y = purchase["purchased_next_30d"].astype(int)
    recency = -purchase["days_since_last_order"].astype("float64").fillna(1e9)
    combined = purchase.groupby("true_person_id").agg(
        p_any=("score", lambda s: 1 - np.prod(1 - s)),
        y=("purchased_next_30d", "first"),
        oracle=("purchase_probability_next_30d", "first"),
    )

    churn = (
        scores[scores["model_name"] == "churn"]
        .merge(mapping, on="person_id")
        .merge(truth, on="true_person_id")
        .merge(features, on="person_id")
    )
    churn_y = churn["churned_next_90d"].astype(int)
    churn_recency = churn["days_since_last_order"].astype("float64").fillna(1e9)
    return PropensityScore(
        persons=len(purchase),
        positives=int(y.sum()),
        model_roc_auc=_auc(y, purchase["score"]),
        oracle_roc_auc=_auc(y, purchase["purchase_probability_next_30d"]),
        recency_roc_auc=_auc(y, recency),
        true_people=len(combined),
        model_roc_auc_true_people=_auc(combined["y"].astype(int), combined["p_any"]),
        oracle_roc_auc_true_people=_auc(combined["y"].astype(int), combined["oracle"]),
        feature_ceiling_roc_auc=feature_ceiling(purchase, names, y) if ceilings else float("nan"),
        probability_ceiling_roc_auc=(
            feature_ceiling(purchase, names, y, target=purchase["purchase_probability_next_30d"])
            if ceilings
            else float("nan")
        ),
        churn_persons=len(churn),
        churn_roc_auc=_auc(churn_y, churn["score"]),
        churn_recency_roc_auc=_auc(churn_y, churn_recency),
        purchase_version=str(versions.loc["purchase", "model_version"]),
        churn_version=str(versions.loc["churn", "model_version"]),
        validation_roc_auc=float(versions.loc["purchase", "roc_auc"]),
        validation_baseline_roc_auc=float(versions.loc["purchase", "baseline_roc_auc"]),
    )


def markdown(score: PropensityScore, heading: str) -> str:
    """A Markdown section with the purchase and churn figures."""
    s = score
    return "\n".join(
        [
            f"## {heading}",
            "",
            f"Purchase model `{s.purchase_version}`: ROC-AUC {s.validation_roc_auc:.4f} on its own "
            f"validation rows (recency x frequency baseline {s.validation_baseline_roc_auc:.4f}).",
            "",
            "| purchase in the next 30 days (truth) | rows | ROC-AUC | oracle ROC-AUC | share of oracle |",
            "|---|---:|---:|---:|---:|",
            f"| per person ({s.positives:,} buyers) | {s.persons:,} | {s.model_roc_auc:.4f} "
            f"| {s.oracle_roc_auc:.4f} | {s.share_of_oracle:.3f} |",
            f"| per true person (split persons combined) | {s.true_people:,} "
            f"| {s.model_roc_auc_true_people:.4f} | {s.oracle_roc_auc_true_people:.4f} "
            f"| {s.model_roc_auc_true_people / s.oracle_roc_auc_true_people:.3f} |",
            f"| recency baseline (per person) | {s.persons:,} | {s.recency_roc_auc:.4f} | | |",
            f"| feature ceiling (fitted on the true outcomes, 3-fold CV) | {s.persons:,} "
            f"| {s.feature_ceiling_roc_auc:.4f} | | {s.feature_ceiling_roc_auc / s.oracle_roc_auc:.3f} |",
            f"| feature ceiling (fitted on the true probabilities, 3-fold CV) | {s.persons:,} "
            f"| {s.probability_ceiling_roc_auc:.4f} | | {s.probability_ceiling_roc_auc / s.oracle_roc_auc:.3f} |",
            "",
            f"Churn model `{s.churn_version}` ({s.churn_persons:,} persons with an order in the year): "
            f"ROC-AUC {s.churn_roc_auc:.4f} against no purchase in the next 90 days "
            f"(recency baseline {s.churn_recency_roc_auc:.4f}).",
            "",
        ]
    )
