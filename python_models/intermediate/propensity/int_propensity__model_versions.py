"""Propensity models trained in the warehouse: one row per trained model version.

Every model of int_propensity__training_set (purchase, churn) is trained on
its `train` rows (older as-of dates) and judged on its `validation` rows (the
newest as-of date whose label window has ended; see int_propensity__examples
for the split). Candidates, each recorded as a version:

- `rfm_baseline`: the training rate of the label in each recency x frequency
  quintile cell (people without orders form one cell). The bar to beat.
- `logistic_regression`: snowflake-ml LogisticRegression on signed-log1p,
  standardized features (nulls: recency -> a cap, everything else -> 0).
- `xgboost`: snowflake-ml XGBClassifier (gradient-boosted trees; nulls are
  handled by the trees).
- `pareto_nbd`: the buy-till-you-die ranking itself, no fitting on labels:
  the score is the feature `btyd_purchase_probability` (below), or one minus
  it for a model whose positive is no order (churn).

The feature `btyd_purchase_probability` is each row's Pareto/NBD probability
of an order within the model's horizon (horizon_days) from their
point-in-time order history, the model fitted per as-of date on everyone
known at that date (int_customers__feature_history, at most
propensity_btyd_fit_max_people of them), whatever the model's population
(mailroom.pymodels.btyd.btyd_purchase_probability; birth rule as in
fct_customer_value, var btyd_birth_window_hours). Only that date's data
reaches a date's values: no label, no later date. It joins the catalog
features of the logistic regression and XGBoost, so they can use the
Pareto/NBD ranking and improve on it where web or e-mail data add signal;
and since `pareto_nbd` competes on the same validation rows, the promoted
model is at least as good as it there. Every artifact of such a run keeps the
feature's settings (`btyd`), so scoring and monitoring compute it the same way.

Each version records ROC-AUC, PR-AUC (average precision), Brier score, log
loss, lift by decile and calibration bins on the validation rows, the
baseline's figures on the same rows, feature importance (mean |contribution|
on validation rows) and the fitted model as JSON (`artifact`): the XGBoost
booster's own JSON, the logistic regression's coefficients and scaling, the
baseline's cell rates. fct_propensity_scores scores from the artifact, so
scoring never retrains; on Snowflake the promoted version is also logged in
the Snowflake Model Registry.

Promotion: the best candidate by `propensity_promotion_metric` is promoted
when it beats the baseline on the validation rows and is not worse than the
current champion re-scored on the same rows. If nothing has ever been
promoted and no candidate beats the baseline, the baseline is promoted, so
that scoring always has a model. A run whose training data, features and
settings are identical to an earlier version's (same fingerprint) trains
nothing: the table is incremental and keeps every version ever trained.

The artifact also keeps the training population's distribution of every
feature and of the score (decile bins) for rpt_model_monitoring's population
stability index.

Small data: every version records `is_small_data` and `small_data_reason`
(the failed thresholds, joined by "; ") when the history cannot support a
model well, in the spirit of the thresholds ESPs document for their own
predictions (Klaviyo: 500 buyers, 180 days of orders, orders in the last 30
days, customers with 3+ orders). The data-level facts come from
int_customers__features at the scoring date (buyers, the span from the first
to the last order, days since the last order, people with 3+ orders, months
of first orders), the training-level ones from the model's rows (train as-of
dates, train and validation positives); the thresholds are the
small_data_* vars (config meta). The flag blocks nothing: a model on small
data is still better than none; it is recorded and shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import warnings

import numpy as np
import pandas as pd

from mailroom.pymodels.bridge import for_warehouse, quiet_snowflake_ml, to_pandas
from mailroom.pymodels.btyd import (
    BIRTH_WINDOW_HOURS,
    BTYD_FEATURE,
    BTYD_INPUTS,
    FIT_MAX_PEOPLE,
    btyd_fits,
    btyd_purchase_probability,
    with_btyd_feature,
)
from mailroom.pymodels.propensity import (
    BASELINE,
    BTYD,
    bin_shares,
    contributions,
    eligible_champions,
    linear_inputs,
    load_booster,
    numeric_matrix,
    predict,
    rfm_cell,
)

# 3: the pareto_nbd candidate, the BTYD feature and the small-data flag
REGISTRY_FORMAT = 3
ALGORITHMS = ("logistic_regression", "xgboost", "pareto_nbd")
# The candidate that scores with the BTYD feature itself.
BTYD_CANDIDATE = "pareto_nbd"
# Small-data thresholds (config meta, from the dbt vars of the same names).
SMALL_DATA_DEFAULTS = {
    "small_data_min_buyers": 500,
    "small_data_min_history_days": 180,
    "small_data_max_days_since_last_order": 30,
    "small_data_min_repeat_buyers": 50,
    "small_data_min_cohorts": 3,
    "small_data_min_training_dates": 3,
    "small_data_min_positives": 100,
    "small_data_min_validation_positives": 30,
}
# A repeat buyer for the small-data flag: this many standing orders or more.
REPEAT_BUYER_ORDERS = 3
# The columns of int_customers__features the data-level facts need.
DATA_FACT_COLUMNS = [
    "orders_lifetime",
    "days_since_first_order",
    "days_since_last_order",
    "first_order_at",
]
# Metrics where a higher value is better; the others (brier, log_loss) are losses.
HIGHER_IS_BETTER = {"roc_auc", "pr_auc"}
OUTPUT_COLUMNS = [
    "model_version",
    "model_name",
    "algorithm",
    "trained_at",
    "training_fingerprint",
    "train_from_date",
    "train_to_date",
    "validation_date",
    "data_as_of_date",
    "train_rows",
    "train_positives",
    "validation_rows",
    "validation_positives",
    "features",
    "parameters",
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "lift_by_decile",
    "calibration",
    "feature_importance",
    "baseline_roc_auc",
    "baseline_pr_auc",
    "baseline_brier",
    "baseline_log_loss",
    "baseline_lift_by_decile",
    "champion_version",
    "champion_roc_auc",
    "is_promoted",
    "promoted_at",
    "promotion_reason",
    "registry_model_name",
    "artifact",
    "is_small_data",
    "small_data_reason",
]


# --------------------------------------------------------------------------- metrics


def tie_averaged(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Labels replaced by the mean label of their tied-score block.

    Splitting rows with the same score into groups by row order would make
    figures depend on that order (a baseline gives every non-buyer one score);
    the block mean is their expectation under any order.
    """
    labels = pd.Series(np.asarray(y, dtype="float64"))
    return labels.groupby(np.asarray(p, dtype="float64")).transform("mean").to_numpy()


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> list[float]:
    """Positive rate of each score decile (1 = highest scores) over the overall rate; ties averaged."""
    p = np.asarray(p, dtype="float64")
    y = tie_averaged(y, p)
    order = np.lexsort((np.arange(len(p)), -p))
    base = y.mean() if len(y) else 0.0
    out = []
    for part in np.array_split(order, 10):
        rate = y[part].mean() if len(part) else 0.0
        out.append(round(float(rate / base), 4) if base > 0 else 0.0)
    return out


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict]:
    """Score-quantile bins: rows, mean predicted probability, observed positive rate; ties averaged."""
    p = np.asarray(p, dtype="float64")
    y = tie_averaged(y, p)
    order = np.lexsort((np.arange(len(p)), p))
    out = []
    for part in np.array_split(order, bins):
        if len(part) == 0:
            continue
        out.append(
            {
                "rows": len(part),
                "mean_predicted": round(float(p[part].mean()), 6),
                "observed_rate": round(float(y[part].mean()), 6),
            }
        )
    return out


def evaluate(y: np.ndarray, p: np.ndarray) -> dict:
    """Validation figures of probabilities p against 0/1 labels y."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y, dtype="int64")
    p = np.clip(np.asarray(p, dtype="float64"), 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "lift_by_decile": lift_by_decile(y, p),
        "calibration": calibration_bins(y, p),
    }


def is_better(metric: str, candidate: float, reference: float | None) -> bool:
    """Whether `candidate` beats `reference` on `metric` (strictly)."""
    if reference is None or not np.isfinite(reference):
        return True
    return candidate > reference if metric in HIGHER_IS_BETTER else candidate < reference


# --------------------------------------------------------------------------- candidates


def fit_baseline(x: pd.DataFrame, y: np.ndarray) -> dict:
    """Recency x frequency cell rates of the training rows (smoothed towards the mean)."""
    y = pd.Series(np.asarray(y, dtype="float64"), index=x.index)
    mean = float(y.mean())
    grouped = y.groupby(rfm_cell(x)).agg(["sum", "count"])
    # 20 pseudo-rows of the mean: a rare cell does not get a 0 or 1 score.
    rates = (grouped["sum"] + 20 * mean) / (grouped["count"] + 20)
    return {
        "kind": BASELINE,
        "features": ["recency_score", "frequency_score"],
        "cells": {str(k): round(float(v), 8) for k, v in rates.items()},
        "default": mean,
    }


def signature_first(x: pd.DataFrame) -> np.ndarray:
    """Row order that puts, for every column, a row where it is not null first.

    snowflake-ml infers a model signature from the first 100 rows and refuses
    a column that is null in all of them; the order is otherwise kept.
    """
    first = [
        int(np.flatnonzero(x[c].notna().to_numpy())[0]) for c in x.columns if x[c].notna().any()
    ]
    front = list(dict.fromkeys(first))
    rest = np.setdiff1d(np.arange(len(x)), front, assume_unique=False)
    return np.concatenate([np.array(front, dtype="int64"), rest])


def fit_logistic(x: pd.DataFrame, y: np.ndarray, params: dict) -> dict:
    """snowflake-ml LogisticRegression on standardized linear_inputs; coefficients in original order."""
    from snowflake.ml.modeling.linear_model import LogisticRegression

    features = list(x.columns)
    z_raw = linear_inputs(x)
    mean = z_raw.mean()
    scale = z_raw.std(ddof=0).replace(0.0, 1.0).fillna(1.0)
    z = ((z_raw - mean) / scale).reset_index(drop=True)
    z.columns = [f"f{i}" for i in range(len(features))]
    z["label"] = np.asarray(y, dtype="int64")
    model = LogisticRegression(
        input_cols=[f"f{i}" for i in range(len(features))],
        label_cols=["label"],
        output_cols=["predicted"],
        **params,
    )
    quiet_snowflake_ml()
    model.fit(z)
    fitted = model.to_sklearn()
    return {
        "kind": "logistic_regression",
        "features": features,
        "mean": [float(v) for v in mean],
        "scale": [float(v) for v in scale],
        "coef": [float(v) for v in fitted.coef_[0]],
        "intercept": float(fitted.intercept_[0]),
    }


def fit_xgboost(x: pd.DataFrame, y: np.ndarray, params: dict) -> dict:
    """snowflake-ml XGBClassifier; the booster kept as XGBoost's own JSON."""
    from snowflake.ml.modeling.xgboost import XGBClassifier

    features = list(x.columns)
    order = signature_first(x)
    frame = x.iloc[order].reset_index(drop=True)
    frame.columns = [f"f{i}" for i in range(len(features))]
    frame["label"] = np.asarray(y, dtype="int64")[order]
    model = XGBClassifier(
        input_cols=[f"f{i}" for i in range(len(features))],
        label_cols=["label"],
        output_cols=["predicted"],
        **params,
    )
    quiet_snowflake_ml()
    model.fit(frame)
    booster = model.to_xgboost().get_booster()
    booster.feature_names = None
    booster.feature_types = None
    return {
        "kind": "xgboost",
        "features": features,
        "booster": bytes(booster.save_raw(raw_format="json")).decode("utf-8"),
    }


def fit_btyd(y: np.ndarray, outcome: str, btyd_settings: dict) -> dict:
    """The `pareto_nbd` candidate: nothing learnt from labels but the base rate (for reasons)."""
    return {
        "kind": BTYD,
        "model": btyd_settings["model"],
        "outcome": outcome,
        "features": [BTYD_FEATURE],
        "base_rate": float(np.mean(y)) if len(y) else 0.5,
    }


def positive_without_order(frame: pd.DataFrame, train: pd.DataFrame) -> bool:
    """Whether the model's positive label is "no order" (churn).

    The training set says so (is_positive_without_order, macro
    propensity_models); a frame without the column is read from its train
    rows: the positive is no order when people more likely to order (by the
    BTYD feature) are less often positive.
    """
    if "is_positive_without_order" in frame.columns:
        flag = frame["is_positive_without_order"].dropna()
        if len(flag):
            return bool(flag.astype(bool).iloc[0])
    p = pd.to_numeric(train[BTYD_FEATURE], errors="coerce").fillna(0.0)
    y = train["label"].astype("float64")
    return bool(np.corrcoef(p, y)[0, 1] < 0) if p.std() > 0 and y.std() > 0 else False


# --------------------------------------------------------------------------- small data


def data_facts(people: pd.DataFrame) -> dict:
    """What the scoring date's features (int_customers__features) say about the order history."""
    orders = pd.to_numeric(people["orders_lifetime"], errors="coerce").fillna(0)
    buyers = people[orders > 0]
    first = pd.to_numeric(buyers["days_since_first_order"], errors="coerce")
    last = pd.to_numeric(buyers["days_since_last_order"], errors="coerce")
    has_orders = first.notna().any() and last.notna().any()
    return {
        "buyers": len(buyers),
        "repeat_buyers": int((orders >= REPEAT_BUYER_ORDERS).sum()),
        # first to last order of the whole base (days before the scoring date)
        "history_days": float(first.max() - last.min()) if has_orders else 0.0,
        "days_since_last_order": float(last.min()) if has_orders else None,
        "cohorts": int(
            pd.to_datetime(buyers["first_order_at"]).dropna().dt.to_period("M").nunique()
        ),
    }


def small_data_reasons(facts: dict, thresholds: dict) -> list[str]:
    """One reason per failed threshold (naming it); facts absent from `facts` are not checked.

    `facts`: data_facts of the scoring date and, per model, training_dates,
    train_positives and validation_positives.
    """
    t = {**SMALL_DATA_DEFAULTS, **thresholds}
    reasons = []

    def below(fact: str, threshold: str, text: str) -> None:
        if fact in facts and facts[fact] < t[threshold]:
            reasons.append(f"{text.format(facts[fact])} ({threshold}: {t[threshold]:g})")

    below("buyers", "small_data_min_buyers", "{} people with a standing order")
    below(
        "history_days", "small_data_min_history_days", "{:g} days from the first to the last order"
    )
    if "days_since_last_order" in facts:
        days = facts["days_since_last_order"]
        limit = t["small_data_max_days_since_last_order"]
        if days is None:
            reasons.append(f"no order at all (small_data_max_days_since_last_order: {limit:g})")
        elif days > limit:
            reasons.append(
                f"the last order {days:g} days before the scoring date "
                f"(small_data_max_days_since_last_order: {limit:g})"
            )
    below(
        "repeat_buyers",
        "small_data_min_repeat_buyers",
        # (no doubled braces: dbt reads model files through Jinja)
        "{} people with " + str(REPEAT_BUYER_ORDERS) + " or more orders",
    )
    below("cohorts", "small_data_min_cohorts", "{} acquisition cohorts (months of first order)")
    below("training_dates", "small_data_min_training_dates", "{} training as-of dates")
    below("train_positives", "small_data_min_positives", "{} training positives")
    below("validation_positives", "small_data_min_validation_positives", "{} validation positives")
    return reasons


# --------------------------------------------------------------------------- importance


def feature_importance(artifact: dict, frame: pd.DataFrame, limit: int = 5000) -> list[dict]:
    """Mean |contribution| per feature on (at most `limit` of) the rows, largest first."""
    sample = frame.iloc[:limit]
    mean_abs = contributions(artifact, sample).abs().mean().sort_values(ascending=False)
    return [{"feature": f, "importance": round(float(v), 6)} for f, v in mean_abs.items()]


# --------------------------------------------------------------------------- monitoring reference


def reference_bins(values: pd.Series, bins: int = 10) -> dict:
    """Decile edges of the non-null values and the share of rows in each bin (and null)."""
    values = pd.to_numeric(values, errors="coerce").astype("float64")
    present = values.dropna()
    if present.empty:
        edges: list[float] = []
    else:
        edges = sorted({float(v) for v in np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])})
    return {"edges": edges, "shares": bin_shares(values, edges)}


# --------------------------------------------------------------------------- training


def fingerprint(
    train: pd.DataFrame, validation: pd.DataFrame, features: list[str], settings: dict
) -> str:
    """Hash of the exact training and validation data, features and settings."""
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {"features": features, "settings": settings}, sort_keys=True, default=str
        ).encode()
    )
    for part in (train, validation):
        ordered = part.sort_values(["person_id", "as_of_date"])[
            ["person_id", "as_of_date", "label", *features]
        ]
        digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def base_digest(base: pd.DataFrame, dates: list[pd.Timestamp]) -> str:
    """Hash of everyone's BTYD inputs at the dates (`base` sorted by as_of_date, person_id)."""
    rows = base[pd.to_datetime(base["as_of_date"]).isin(dates)]
    columns = ["person_id", *BTYD_INPUTS]
    hashed = pd.util.hash_pandas_object(rows[columns], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def fit_candidate(algorithm: str, x: pd.DataFrame, y: np.ndarray, settings: dict) -> dict:
    if algorithm == "logistic_regression":
        return fit_logistic(x, y, dict(settings.get("logistic_params") or {}))
    if algorithm == "xgboost":
        return fit_xgboost(x, y, dict(settings.get("xgboost_params") or {}))
    raise ValueError(f"propensity_algorithms: unknown algorithm {algorithm!r}")


def current_champion(
    previous: pd.DataFrame | None, model_name: str, scoring_date
) -> pd.Series | None:
    """The model's champion for `scoring_date` among earlier runs, if any."""
    if previous is None or previous.empty or "data_as_of_date" not in previous.columns:
        return None
    champions = eligible_champions(previous, scoring_date)
    champions = champions[champions["model_name"] == model_name]
    return None if champions.empty else champions.iloc[-1]


def btyd_settings(settings: dict, horizon_days: int) -> dict:
    """How the BTYD feature is computed for a model (kept in every artifact of the run)."""
    btyd = settings.get("btyd") or {}
    fit_max_people = btyd.get("fit_max_people", FIT_MAX_PEOPLE)
    return {
        "model": "pareto_nbd",
        "horizon_days": horizon_days,
        "birth_window_hours": float(btyd.get("birth_window_hours", BIRTH_WINDOW_HOURS)),
        "fit_max_people": int(fit_max_people) if fit_max_people else None,
    }


def train_model(
    model_name: str,
    frame: pd.DataFrame,
    features: list[str],
    settings: dict,
    previous: pd.DataFrame | None,
    trained_at: dt.datetime,
    scoring_date,
    facts: dict | None = None,
    base: pd.DataFrame | None = None,
    fits: dict | None = None,
) -> list[dict]:
    """Train, evaluate and maybe promote every candidate of one model; one row per version.

    Returns [] when this exact training run was already recorded, or when the
    data cannot support a model (no train or validation rows, a single class).
    `facts`: data_facts of the scoring date, for the small-data flag. `base`:
    everyone's BTYD inputs per as-of date (the feature history), what the BTYD
    feature's model is fitted on (else each date's own rows); `fits` caches
    those fits across the models of a run.
    """
    frame = frame.sort_values(["as_of_date", "person_id"]).reset_index(drop=True)
    horizon_days = int(frame["horizon_days"].iloc[0]) if "horizon_days" in frame.columns else 0
    # The BTYD feature joins the features when the frame has its inputs.
    btyd = None
    if all(c in frame.columns for c in BTYD_INPUTS):
        btyd = btyd_settings(settings, horizon_days)
    elif BTYD_CANDIDATE in settings["algorithms"]:
        missing = [c for c in BTYD_INPUTS if c not in frame.columns]
        raise ValueError(
            f"{model_name}: the {BTYD_CANDIDATE} candidate needs the columns {missing} "
            "in int_propensity__training_set"
        )
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    validation = frame[frame["split"] == "validation"].reset_index(drop=True)
    if train["label"].nunique() < 2 or validation["label"].nunique() < 2:
        warnings.warn(
            f"{model_name}: not trained, the train or validation rows lack both outcomes "
            f"({len(train)} train, {len(validation)} validation rows)",
            stacklevel=2,
        )
        return []
    # REGISTRY_FORMAT: a change of what a version records retrains (old rows lack it).
    # The BTYD feature is fingerprinted by its inputs and settings (cheaper than
    # computing it for a run that trains nothing). The small-data thresholds
    # only label a version: changing them retrains nothing.
    inputs = [c for c in BTYD_INPUTS if c != "as_of_date"] if btyd else []
    hashed = list(dict.fromkeys([*features, *inputs]))
    dates = sorted({pd.Timestamp(d) for d in frame["as_of_date"]})
    trained_settings = {
        **{k: v for k, v in settings.items() if k != "small_data"},
        "btyd": btyd,
        "btyd_base": base_digest(base, dates) if btyd and base is not None else None,
        "format": REGISTRY_FORMAT,
    }
    training_fingerprint = fingerprint(train, validation, hashed, trained_settings)
    if (
        previous is not None
        and not previous.empty
        and (
            (previous["model_name"] == model_name)
            & (previous["training_fingerprint"] == training_fingerprint)
        ).any()
    ):
        return []
    if btyd is not None:
        # one fit per as-of date on everyone then (shared by the models of the run)
        fits = {} if fits is None else fits
        needed = [d for d in dates if d not in fits]
        if base is not None and needed:
            fits.update(
                btyd_fits(
                    base, needed, btyd["model"], btyd["fit_max_people"], btyd["birth_window_hours"]
                )
            )
        for part in (train, validation):
            part[BTYD_FEATURE] = btyd_purchase_probability(
                part,
                horizon_days,
                btyd["model"],
                btyd["fit_max_people"],
                btyd["birth_window_hours"],
                fits=fits,
            )
        features = [*[f for f in features if f != BTYD_FEATURE], BTYD_FEATURE]

    # A feature with no value in the training rows (no web or e-mail data at all) says nothing.
    features = [f for f in features if train[f].notna().any()]
    metric = settings["promotion_metric"]
    y_train = train["label"].to_numpy(dtype="int64")
    y_valid = validation["label"].to_numpy(dtype="int64")
    x_train = numeric_matrix(train, features)
    x_valid = numeric_matrix(validation, features)

    artifacts = {BASELINE: fit_baseline(train, y_train)}
    for algorithm in settings["algorithms"]:
        if algorithm == BTYD_CANDIDATE:
            outcome = "no_order" if positive_without_order(frame, train) else "order"
            artifacts[algorithm] = fit_btyd(y_train, outcome, btyd)
        else:
            artifacts[algorithm] = fit_candidate(algorithm, x_train, y_train, settings)
    figures = {}
    valid_scores = {}
    for algorithm, artifact in artifacts.items():
        valid_scores[algorithm] = predict(artifact, validation)
        figures[algorithm] = evaluate(y_valid, valid_scores[algorithm])
    baseline = figures[BASELINE]

    # The champion competes on the same validation rows, if it can: it must have
    # the features, and its own training labels must end by the validation date.
    champion = current_champion(previous, model_name, scoring_date)
    champion_figure = None
    if champion is not None:
        champion_artifact = json.loads(champion["artifact"])
        horizon = pd.Timedelta(days=int(champion_artifact.get("horizon_days") or 0))
        validation_date = pd.Timestamp(validation["as_of_date"].max())
        comparable = pd.Timestamp(champion["train_to_date"]) + horizon <= validation_date
        champion_rows = validation
        if champion_artifact.get("btyd") and champion_artifact["btyd"] != btyd:
            # its BTYD feature as it was computed for it (another horizon or birth window)
            champion_rows = with_btyd_feature(
                validation.drop(columns=[BTYD_FEATURE], errors="ignore"), champion_artifact, base
            )
        if not all(f in champion_rows.columns for f in champion_artifact["features"]):
            champion = None  # retired: it cannot score today's features
        elif comparable:
            champion_figure = evaluate(y_valid, predict(champion_artifact, champion_rows))[metric]

    candidates = [
        a for a in settings["algorithms"] if is_better(metric, figures[a][metric], baseline[metric])
    ]
    best = None
    if candidates:
        best = candidates[0]
        for algorithm in candidates[1:]:
            if is_better(metric, figures[algorithm][metric], figures[best][metric]):
                best = algorithm
    promoted, reason = None, "did not beat the baseline"
    if best is not None and (
        champion_figure is None or not is_better(metric, champion_figure, figures[best][metric])
    ):
        promoted, reason = best, f"best {metric} on the validation rows, above the baseline"
    elif best is not None:
        reason = f"the current champion has a better {metric} on the same validation rows"
    elif champion is None:
        promoted, reason = BASELINE, "no candidate beat the baseline and there was no champion"

    # Small data: recorded on every version of the run, never a reason not to train or promote.
    reasons = small_data_reasons(
        {
            **(facts or {}),
            "training_dates": int(train["as_of_date"].nunique()),
            "train_positives": int(y_train.sum()),
            "validation_positives": int(y_valid.sum()),
        },
        settings.get("small_data") or {},
    )
    suffix = training_fingerprint[:12]
    rows = []
    for algorithm, artifact in artifacts.items():
        params = {
            BASELINE: {},
            "logistic_regression": settings["logistic_params"],
            "xgboost": settings["xgboost_params"],
            BTYD_CANDIDATE: btyd or {},
        }[algorithm]
        artifact = dict(artifact)
        artifact["horizon_days"] = horizon_days
        if btyd is not None:
            artifact["btyd"] = btyd
        # PSI reference: the validation date's population and its out-of-sample scores
        artifact["reference"] = {
            "features": {f: reference_bins(x_valid[f], settings["psi_bins"]) for f in features},
            "score": reference_bins(pd.Series(valid_scores[algorithm]), settings["psi_bins"]),
        }
        fig = figures[algorithm]
        is_promoted = algorithm == promoted
        rows.append(
            {
                "model_version": f"{model_name}-{algorithm}-{suffix}",
                "model_name": model_name,
                "algorithm": algorithm,
                "trained_at": trained_at,
                "training_fingerprint": training_fingerprint,
                "train_from_date": train["as_of_date"].min(),
                "train_to_date": train["as_of_date"].max(),
                "validation_date": validation["as_of_date"].max(),
                "data_as_of_date": scoring_date,
                "train_rows": len(train),
                "train_positives": int(y_train.sum()),
                "validation_rows": len(validation),
                "validation_positives": int(y_valid.sum()),
                "features": json.dumps(artifact["features"]),
                "parameters": json.dumps(params, sort_keys=True),
                "roc_auc": fig["roc_auc"],
                "pr_auc": fig["pr_auc"],
                "brier": fig["brier"],
                "log_loss": fig["log_loss"],
                "lift_by_decile": json.dumps(fig["lift_by_decile"]),
                "calibration": json.dumps(fig["calibration"]),
                "feature_importance": json.dumps(feature_importance(artifact, validation)),
                "baseline_roc_auc": baseline["roc_auc"],
                "baseline_pr_auc": baseline["pr_auc"],
                "baseline_brier": baseline["brier"],
                "baseline_log_loss": baseline["log_loss"],
                "baseline_lift_by_decile": json.dumps(baseline["lift_by_decile"]),
                "champion_version": None if champion is None else champion["model_version"],
                "champion_roc_auc": None
                if champion is None or champion_figure is None or metric != "roc_auc"
                else champion_figure,
                "is_promoted": is_promoted,
                "promoted_at": trained_at if is_promoted else None,
                "promotion_reason": reason
                if algorithm != BASELINE or is_promoted
                else "the baseline",
                "registry_model_name": None,
                "artifact": json.dumps(artifact),
                "is_small_data": bool(reasons),
                "small_data_reason": "; ".join(reasons) or None,
            }
        )
    return rows


TIMESTAMP_COLUMNS = ("trained_at", "promoted_at")
DATE_COLUMNS = ("train_from_date", "train_to_date", "validation_date", "data_as_of_date")
INTEGER_COLUMNS = ("train_rows", "train_positives", "validation_rows", "validation_positives")
FLOAT_COLUMNS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "baseline_roc_auc",
    "baseline_pr_auc",
    "baseline_brier",
    "baseline_log_loss",
    "champion_roc_auc",
)


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The output columns with fixed types, whatever the rows (none, all-null columns)."""
    out = frame.reindex(columns=OUTPUT_COLUMNS).copy()
    for c in OUTPUT_COLUMNS:
        if c in TIMESTAMP_COLUMNS or c in DATE_COLUMNS:
            # dates travel as midnight timestamps (dim_model_versions casts them back)
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
        elif c in INTEGER_COLUMNS:
            out[c] = out[c].astype("int64")
        elif c in FLOAT_COLUMNS:
            out[c] = out[c].astype("float64")
        elif c in ("is_promoted", "is_small_data"):
            out[c] = out[c].astype("bool")
        else:
            out[c] = out[c].astype("string")
    return out


def train_all(
    training: pd.DataFrame,
    features: list[str],
    settings: dict,
    previous: pd.DataFrame | None,
    trained_at: dt.datetime,
    scoring_date,
    facts: dict | None = None,
    base: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Versions of every model in `training` (model_name column), trained for `scoring_date`.

    `facts`: data_facts of the scoring date's features, for the small-data flag.
    `base`: the BTYD inputs of everyone per as-of date (int_customers__feature_history),
    what the BTYD feature's purchase model is fitted on.
    """
    if base is not None:
        base = base.sort_values(["as_of_date", "person_id"], kind="stable").reset_index(drop=True)
    fits: dict = {}  # the BTYD fits per as-of date, shared by the models
    rows = []
    for model_name in sorted(training["model_name"].unique()):
        frame = training[training["model_name"] == model_name]
        rows.extend(
            train_model(
                model_name,
                frame,
                features,
                settings,
                previous,
                trained_at,
                scoring_date,
                facts,
                base,
                fits,
            )
        )
    return typed(pd.DataFrame(rows, columns=OUTPUT_COLUMNS))


def log_to_registry(session, versions: pd.DataFrame, database: str, schema: str) -> pd.DataFrame:
    """Log each promoted XGBoost version in the Snowflake Model Registry (Snowflake only).

    The registry gets the booster re-created from its artifact, with its
    validation metrics; logistic and baseline versions live in the table
    only. The warehouse table keeps every artifact, so scoring reads one
    place on every engine. Untested here: fakesnow cannot host the registry.
    """
    from snowflake.ml.registry import Registry

    registry = Registry(session=session, database_name=database, schema_name=schema)
    for index, row in versions[versions["is_promoted"]].iterrows():
        artifact = json.loads(row["artifact"])
        if artifact["kind"] != "xgboost":
            continue
        sample = pd.DataFrame([[0.0] * len(artifact["features"])], columns=artifact["features"])
        name = f"propensity_{row['model_name']}"
        registry.log_model(
            load_booster(artifact),
            model_name=name,
            version_name=row["model_version"].replace("-", "_"),
            sample_input_data=sample,
            metrics={k: float(row[k]) for k in ("roc_auc", "pr_auc", "brier", "log_loss")},
            comment=row["promotion_reason"],
        )
        versions.loc[index, "registry_model_name"] = name
    return versions


def model(dbt, session):
    algorithms = dbt.config.meta_get("propensity_algorithms")
    xgboost_params = dbt.config.meta_get("propensity_xgboost_params")
    logistic_params = dbt.config.meta_get("propensity_logistic_params")
    promotion_metric = dbt.config.meta_get("propensity_promotion_metric")
    excluded = dbt.config.meta_get("propensity_excluded_features")
    psi_bins = dbt.config.meta_get("propensity_psi_bins")
    birth_window_hours = dbt.config.meta_get("propensity_btyd_birth_window_hours")
    fit_max_people = dbt.config.meta_get("propensity_btyd_fit_max_people")
    # one literal call each: dbt reads the config calls of a model file statically
    small_data = {
        "small_data_min_buyers": dbt.config.meta_get("small_data_min_buyers"),
        "small_data_min_history_days": dbt.config.meta_get("small_data_min_history_days"),
        "small_data_max_days_since_last_order": dbt.config.meta_get(
            "small_data_max_days_since_last_order"
        ),
        "small_data_min_repeat_buyers": dbt.config.meta_get("small_data_min_repeat_buyers"),
        "small_data_min_cohorts": dbt.config.meta_get("small_data_min_cohorts"),
        "small_data_min_training_dates": dbt.config.meta_get("small_data_min_training_dates"),
        "small_data_min_positives": dbt.config.meta_get("small_data_min_positives"),
        "small_data_min_validation_positives": dbt.config.meta_get(
            "small_data_min_validation_positives"
        ),
    }
    settings = {
        "algorithms": list(algorithms or ALGORITHMS),
        "xgboost_params": dict(xgboost_params or {}),
        "logistic_params": dict(logistic_params or {}),
        "promotion_metric": str(promotion_metric or "roc_auc"),
        "psi_bins": int(psi_bins or 10),
        "btyd": {
            # rendered from vars, so text
            "birth_window_hours": float(
                BIRTH_WINDOW_HOURS if birth_window_hours in (None, "") else birth_window_hours
            ),
            "fit_max_people": int(fit_max_people) if fit_max_people else FIT_MAX_PEOPLE,
        },
        "small_data": {k: float(v) for k, v in small_data.items() if v not in (None, "")},
    }
    catalog = to_pandas(dbt.ref("int_customers__feature_catalog")).sort_values("feature_number")
    features = [f for f in catalog["feature_name"] if f not in set(excluded or [])]
    if BTYD_FEATURE in features:
        raise ValueError(f"{BTYD_FEATURE} is a catalog feature: rename one of the two")
    training = to_pandas(dbt.ref("int_propensity__training_set"))
    dates = to_pandas(dbt.ref("int_customers__feature_dates"))
    scoring_date = pd.Timestamp(
        dates.loc[dates["is_scoring_date"].astype(bool), "as_of_date"].iloc[0]
    )
    facts = data_facts(to_pandas(dbt.ref("int_customers__features"), DATA_FACT_COLUMNS))
    # everyone known at each as-of date: what the BTYD feature's model is fitted on
    base = to_pandas(dbt.ref("int_customers__feature_history"), ["person_id", *BTYD_INPUTS])
    base = base[base["as_of_date"].isin(set(training["as_of_date"]))]
    # Earlier versions: the champion to beat, and fingerprints already trained.
    previous = to_pandas(session.sql(f"select * from {dbt.this}")) if dbt.is_incremental else None
    trained_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    versions = train_all(
        training, features, settings, previous, trained_at, scoring_date, facts, base
    )
    snowpark = session is not None and hasattr(session, "create_dataframe")
    if snowpark and versions.empty and dbt.is_incremental:
        # Nothing new: an empty frame with the table's own schema (Snowpark
        # cannot infer one from an empty pandas frame).
        return session.sql(f"select * from {dbt.this} where 1 = 0")
    if snowpark and len(versions):
        versions = log_to_registry(session, versions, dbt.this.database, dbt.this.schema)
    return for_warehouse(versions, session)
