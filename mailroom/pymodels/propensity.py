"""The fitted propensity models as the Python models use them: features in, scores out.

int_propensity__model_versions trains the candidates and records each as a
JSON artifact; fct_propensity_scores rebuilds the champion from its artifact
and scores; rpt_model_monitoring bins today's population like the training
reference. All three go through these functions, so the training figures,
the scores and the monitoring bins follow one rule.

An artifact is a dict with `kind` (`rfm_baseline`, `logistic_regression`,
`xgboost` or `btyd`), `features` and what the kind needs: the baseline's cell
rates (`cells`, `default`), the logistic regression's `mean`, `scale`, `coef`
and `intercept` on linear_inputs, the XGBoost booster's own JSON
(`booster`), or for `btyd` (the `pareto_nbd` candidate) its `outcome`
(`order`, or `no_order` when the model's positive is no order) and the
training rate of the label (`base_rate`). A `btyd` artifact scores with its
one feature, the buy-till-you-die probability of an order within the horizon
(mailroom.pymodels.btyd computes it; this module needs no scipy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BASELINE = "rfm_baseline"
BTYD = "btyd"
# "Never" for a recency feature: longer than any history (days, hours).
RECENCY_CAP = {"days_since_": 730.0, "hours_since_": 17520.0}


# --------------------------------------------------------------------------- features


def recency_cap(feature: str) -> float | None:
    """The cap of a recency feature (by its name's prefix); None for other features."""
    for prefix, cap in RECENCY_CAP.items():
        if feature.startswith(prefix):
            return cap
    return None


def numeric_matrix(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The features as float64 (nulls stay NaN), in the given order."""
    return frame.reindex(columns=features).apply(pd.to_numeric, errors="coerce").astype("float64")


def linear_inputs(x: pd.DataFrame) -> pd.DataFrame:
    """Imputed, signed-log1p features for the linear model.

    Nulls mean "never" (recency) or "not applicable" (rates, averages):
    recency -> its cap (longer than any history), everything else -> 0.
    Recency is clipped to the cap so "never" and "very long ago" meet.
    """
    out = x.copy()
    for feature in out.columns:
        cap = recency_cap(feature)
        if cap is not None:
            out[feature] = out[feature].fillna(cap).clip(upper=cap)
        else:
            out[feature] = out[feature].fillna(0.0)
    return np.sign(out) * np.log1p(out.abs())


def rfm_cell(x: pd.DataFrame) -> pd.Series:
    """'r-f' quintile cell of buyers, 'none' for people without orders."""
    r = x.get("recency_score")
    f = x.get("frequency_score")
    if r is None or f is None:
        return pd.Series("none", index=x.index)
    cell = r.fillna(0).astype("int64").astype(str) + "-" + f.fillna(0).astype("int64").astype(str)
    return cell.where(r.notna() & f.notna(), "none")


# --------------------------------------------------------------------------- scoring


def load_booster(artifact: dict):
    """The XGBoost booster of an `xgboost` artifact (xgboost imported here, when needed)."""
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(artifact["booster"].encode("utf-8")))
    return booster


def predict(artifact: dict, frame: pd.DataFrame, booster=None) -> np.ndarray:
    """Probabilities of the positive label for the rows of `frame` from a fitted artifact."""
    kind = artifact["kind"]
    if kind == BASELINE:
        cells = rfm_cell(frame)
        rates = cells.map(artifact["cells"]).astype("float64")
        return rates.fillna(artifact["default"]).to_numpy(dtype="float64")
    x = numeric_matrix(frame, artifact["features"])
    if kind == BTYD:
        # the probability of an order; a person without one gets the training rate
        p = x.iloc[:, 0].clip(0.0, 1.0).to_numpy(dtype="float64")
        if artifact.get("outcome") == "no_order":
            p = 1.0 - p
        return np.where(np.isnan(p), float(artifact["base_rate"]), p)
    if kind == "logistic_regression":
        z = (linear_inputs(x).to_numpy() - np.array(artifact["mean"])) / np.array(artifact["scale"])
        return 1.0 / (1.0 + np.exp(-(z @ np.array(artifact["coef"]) + artifact["intercept"])))
    if kind == "xgboost":
        import xgboost

        booster = booster or load_booster(artifact)
        return booster.predict(xgboost.DMatrix(x.to_numpy(), missing=np.nan)).astype("float64")
    raise ValueError(f"unknown model kind {kind!r}")


def contributions(
    artifact: dict, frame: pd.DataFrame, booster=None, approximate: bool = False
) -> pd.DataFrame:
    """Per-row, per-feature contributions to the score's log-odds (the reasons).

    XGBoost: exact tree SHAP values (XGBoost's pred_contribs), or with
    `approximate` Saabas values (approx_contribs: each split's change of the
    node value, ~7x faster; they add up to the log-odds too). Logistic
    regression: coefficient x standardized value (relative to the training
    mean). Baseline: its two cell features share the cell's log-odds
    difference from the overall rate. BTYD: its one feature carries the
    score's log-odds difference from the training rate of the label.
    """
    kind = artifact["kind"]
    if kind in (BASELINE, BTYD):
        p = np.clip(predict(artifact, frame), 1e-7, 1 - 1e-7)
        rate = artifact["default"] if kind == BASELINE else artifact["base_rate"]
        base = float(np.clip(rate, 1e-7, 1 - 1e-7))
        delta = np.log(p / (1 - p)) - np.log(base / (1 - base))
        share = delta / len(artifact["features"])
        return pd.DataFrame({f: share for f in artifact["features"]}, index=frame.index)
    x = numeric_matrix(frame, artifact["features"])
    if kind == "logistic_regression":
        z = (linear_inputs(x).to_numpy() - np.array(artifact["mean"])) / np.array(artifact["scale"])
        return pd.DataFrame(
            z * np.array(artifact["coef"]), columns=artifact["features"], index=frame.index
        )
    if kind == "xgboost":
        import xgboost

        booster = booster or load_booster(artifact)
        shap = booster.predict(
            xgboost.DMatrix(x.to_numpy(), missing=np.nan),
            pred_contribs=True,
            approx_contribs=approximate,
        )
        return pd.DataFrame(shap[:, :-1], columns=artifact["features"], index=frame.index)
    raise ValueError(f"unknown model kind {kind!r}")


def eligible_champions(versions: pd.DataFrame, scoring_date) -> pd.DataFrame:
    """Each model's champion for a scoring date: its latest promotion among the
    versions whose data ended by that date (data_as_of_date <= scoring_date).

    A version trained for a later scoring date learnt labels from after this
    one: it may not score, nor be compared on, an earlier date (backfills).
    """
    scoring = pd.Timestamp(scoring_date)
    eligible = versions["promoted_at"].notna() & (
        pd.to_datetime(versions["data_as_of_date"]) <= scoring
    )
    promoted = versions[eligible].sort_values(
        ["model_name", "data_as_of_date", "promoted_at", "model_version"]
    )
    return promoted.groupby("model_name", as_index=False).tail(1).reset_index(drop=True)


# --------------------------------------------------------------------------- monitoring bins


def bin_shares(values: pd.Series, edges: list[float]) -> list[float]:
    """Shares of values in (-inf, e1], (e1, e2]... (e_k, inf), then null: len(edges) + 2 shares.

    Training records the validation population's shares this way (the
    artifact's `reference`); monitoring bins today's population by the same
    rule against those edges.
    """
    values = pd.to_numeric(values, errors="coerce").astype("float64")
    n = len(values)
    if n == 0:
        return [0.0] * (len(edges) + 2)
    present = values.dropna().to_numpy()
    index = np.searchsorted(np.asarray(edges, dtype="float64"), present, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype("float64")
    return [float(c / n) for c in counts] + [float((n - len(present)) / n)]
