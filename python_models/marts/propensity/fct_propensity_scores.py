"""Propensity scores of every person at the scoring date, from the promoted model versions.

One row per person and model (purchase for everyone; churn for the people in
its population, see int_propensity__scoring_population). Nothing is trained here: each
model's champion (its latest promoted version in int_propensity__model_versions)
is rebuilt from its JSON artifact and applied to int_customers__features, so
the same version and data always give the same scores.

- score: the probability of the model's outcome.
- decile: 1 = the tenth of the model's scored people with the highest scores.
- score_percentile: the share of the model's scored people with a score at
  most this one (ties share the average), in (0, 1].
- tier: from config meta `propensity_tiers`, per model: `basis` (score or
  percentile) and `tiers` {name: threshold}; a person gets the first tier,
  from the highest threshold down, whose threshold their value exceeds; the
  lowest tier takes everyone else.
- reason_1..3 and reasons: the features that push this person's score up the
  most, from per-person contributions to the log-odds (exact tree SHAP values
  for XGBoost up to config meta propensity_exact_reasons_max_rows people per
  model, Saabas values above; coefficient x standardized value for the
  logistic regression; for the `pareto_nbd` champion its one feature,
  btyd_purchase_probability, when it lifts the score above the training rate).

A champion trained with the BTYD feature (btyd_purchase_probability, the
Pareto/NBD probability of an order within its horizon) gets it computed here
first, with the settings its artifact recorded, by the function training
used (mailroom.pymodels.btyd.with_btyd_feature): the purchase model fitted
on everyone at the scoring date (int_customers__features), as training
fitted it on everyone at each as-of date, and applied to the model's
scored population.

The champion is chosen, and the artifact applied, by the functions
int_propensity__model_versions trains and compares with
(mailroom.pymodels.propensity).
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from mailroom.pymodels.bridge import for_warehouse, to_pandas
from mailroom.pymodels.btyd import BTYD_FEATURE, BTYD_FEATURE_LABEL, with_btyd_feature
from mailroom.pymodels.propensity import (
    contributions,
    eligible_champions,
    load_booster,
    numeric_matrix,
    predict,
)

REASONS = 3
BATCH_ROWS = 100_000
OUTPUT_COLUMNS = [
    "person_id",
    "model_name",
    "score",
    "decile",
    "score_percentile",
    "tier",
    "model_version",
    "algorithm",
    "reason_1",
    "reason_2",
    "reason_3",
    "reasons",
    "reasons_text",
    "as_of_date",
    "scored_at",
]


# --------------------------------------------------------------------------- scoring


def deciles(scores: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """1 for the highest tenth of scores ... 10 for the lowest; ties broken by key."""
    n = len(scores)
    order = np.lexsort((keys, -scores))
    out = np.empty(n, dtype="int64")
    out[order] = 1 + (np.arange(n) * 10) // max(n, 1)
    return out


def tiers(values: np.ndarray, thresholds: dict) -> np.ndarray:
    """The first tier from the highest threshold down that the value exceeds; else the lowest."""
    ordered = sorted(thresholds.items(), key=lambda item: float(item[1]), reverse=True)
    if not ordered:
        raise ValueError("propensity_tiers: a model needs at least one tier")
    out = np.full(len(values), ordered[-1][0], dtype=object)
    for name, threshold in reversed(ordered[:-1]):
        out[values > float(threshold)] = name
    return out


def format_value(value) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def top_reasons(
    contrib: pd.DataFrame, values: pd.DataFrame, count: int = REASONS
) -> list[list[dict]]:
    """Per row, the `count` features with the largest positive contributions (value, contribution)."""
    names = np.array(contrib.columns)
    c = contrib.to_numpy()
    v = values.reindex(columns=names).to_numpy(dtype="float64")
    order = np.argsort(-c, axis=1, kind="stable")[:, :count]
    out = []
    for row in range(len(c)):
        out.append(
            [
                {
                    "feature": str(names[j]),
                    "value": format_value(v[row, j]),
                    "contribution": round(float(c[row, j]), 4),
                }
                for j in order[row]
                if c[row, j] > 0
            ]
        )
    return out


def score_model(
    champion: pd.Series,
    people: pd.DataFrame,
    tier_settings: dict,
    exact_reasons_max_rows: int | None = None,
    base: pd.DataFrame | None = None,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Scores, deciles, tiers and reasons of one model's population.

    `labels`: each feature in words (the feature catalog's feature_label), for
    the reasons a person reads (`reasons_text`, the JSON's "label").

    Reasons are exact tree SHAP values up to `exact_reasons_max_rows` people
    (None: always), Saabas values above (the cost that grows fastest at scale).
    `base`: everyone's features at the date, what the BTYD feature's model is
    fitted on (else the population itself).
    """
    artifact = json.loads(champion["artifact"])
    people = people.sort_values("person_id").reset_index(drop=True)
    # the BTYD feature of the whole population at once, before batching
    people = with_btyd_feature(people, artifact, base)
    missing = [f for f in artifact["features"] if f not in people.columns]
    if missing:
        raise ValueError(
            f"{champion['model_version']} needs features that no longer exist: {', '.join(missing)}; "
            "retrain (dbt build -s int_propensity__model_versions+) before scoring"
        )
    booster = load_booster(artifact) if artifact["kind"] == "xgboost" else None
    approximate = exact_reasons_max_rows is not None and len(people) > exact_reasons_max_rows
    scores, reasons = [], []
    for start in range(0, len(people), BATCH_ROWS):
        batch = people.iloc[start : start + BATCH_ROWS]
        scores.append(predict(artifact, batch, booster))
        contrib = contributions(artifact, batch, booster, approximate=approximate)
        reasons.extend(top_reasons(contrib, numeric_matrix(batch, list(contrib.columns))))
    score = np.concatenate(scores) if scores else np.array([], dtype="float64")
    percentile = pd.Series(score).rank(pct=True, method="average").to_numpy(dtype="float64")
    setting = tier_settings.get(champion["model_name"]) or {}
    basis = setting.get("basis", "score")
    if basis not in ("score", "percentile"):
        raise ValueError(f"propensity_tiers: basis must be score or percentile, not {basis!r}")
    tier_values = percentile if basis == "percentile" else score
    out = pd.DataFrame(
        {
            "person_id": people["person_id"].astype("string"),
            "model_name": champion["model_name"],
            "score": score,
            "decile": deciles(score, people["person_id"].to_numpy(dtype=str)),
            "score_percentile": percentile,
            "tier": tiers(tier_values, setting.get("tiers") or {"all": 0.0}),
            "model_version": champion["model_version"],
            "algorithm": champion["algorithm"],
            "as_of_date": people["as_of_date"],
        }
    )
    for i in range(REASONS):
        out[f"reason_{i + 1}"] = [r[i]["feature"] if len(r) > i else None for r in reasons]
    words = {BTYD_FEATURE: BTYD_FEATURE_LABEL, **(labels or {})}
    for row in reasons:
        for reason in row:
            reason["label"] = words.get(reason["feature"], reason["feature"].replace("_", " "))
    out["reasons"] = [json.dumps(r) for r in reasons]
    out["reasons_text"] = [
        "; ".join(f"{r['label']}: {r['value']}" for r in row) or None for row in reasons
    ]
    return out


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.reindex(columns=OUTPUT_COLUMNS).copy()
    for c in ("score", "score_percentile"):
        out[c] = out[c].astype("float64")
    out["decile"] = out["decile"].astype("int64")
    out["as_of_date"] = pd.to_datetime(out["as_of_date"]).astype("datetime64[us]")
    out["scored_at"] = pd.to_datetime(out["scored_at"]).astype("datetime64[us]")
    for c in OUTPUT_COLUMNS:
        if c not in ("score", "score_percentile", "decile", "as_of_date", "scored_at"):
            out[c] = out[c].astype("string")
    return out


def score_all(
    versions: pd.DataFrame,
    features: pd.DataFrame,
    population: pd.DataFrame,
    tier_settings: dict,
    scored_at: dt.datetime,
    exact_reasons_max_rows: int | None = None,
    labels: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Scores of every (person, model) in `population` by the model's champion."""
    parts = []
    scoring_date = features["as_of_date"].max() if len(features) else None
    for _, champion in eligible_champions(versions, scoring_date).iterrows():
        members = population.loc[population["model_name"] == champion["model_name"], ["person_id"]]
        people = features.merge(members, on="person_id", how="inner")
        parts.append(
            score_model(champion, people, tier_settings, exact_reasons_max_rows, features, labels)
        )
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=OUTPUT_COLUMNS)
    out["scored_at"] = scored_at
    return typed(out)


def model(dbt, session):
    tier_settings = dbt.config.meta_get("propensity_tiers")
    exact_reasons_max_rows = dbt.config.meta_get("propensity_exact_reasons_max_rows")
    versions = to_pandas(dbt.ref("int_propensity__model_versions"))
    population = to_pandas(
        dbt.ref("int_propensity__scoring_population"), ["model_name", "person_id"]
    )
    features = to_pandas(dbt.ref("int_customers__features"))
    catalog = to_pandas(dbt.ref("int_customers__feature_catalog"))
    labels = dict(zip(catalog["feature_name"], catalog["feature_label"], strict=True))
    scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    scores = score_all(
        versions,
        features,
        population,
        dict(tier_settings or {}),
        scored_at,
        None if exact_reasons_max_rows is None else int(exact_reasons_max_rows),
        labels,
    )
    return for_warehouse(scores, session)
