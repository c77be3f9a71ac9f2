"""Monitoring of the propensity models: one row per check at the scoring date.

Two checks (`check_name`):

- `psi`: the population stability index of every feature and of the score
  (`subject`) between each model's reference population and the people it
  scores today. The version is the one fct_propensity_scores scored with;
  its artifact's `reference` holds the decile bins of its validation rows
  (one as-of date, scored out of sample), {"edges": [...], "shares": [...]}
  with shares of (-inf, e1], (e1, e2] ... (ek, +inf) and then of nulls. The
  current population is the people fct_propensity_scores scored with the
  model (their int_customers__features row; the score from
  fct_propensity_scores), put in the same bins by the same rule
  (`bin_shares` of mailroom.pymodels.propensity, as training did). PSI =
  sum over bins of (current - reference) * ln(current / reference); a share
  below `monitoring_psi_epsilon` counts as the epsilon (an empty bin would
  otherwise make it infinite). Status by config meta thresholds: `warn` from
  `monitoring_psi_warn`, `fail` from `monitoring_psi_fail`, else `ok`; only
  the score and the version's `monitoring_fail_top_features` most important
  features can reach `fail` (the rest warn at most). Features in
  `monitoring_excluded_features` keep their row with status `excluded`.
  A feature the models derive rather than read, btyd_purchase_probability
  (not a column of int_customers__features), is computed for the scored
  people as fct_propensity_scores computed it (the same fit on everyone's
  features, the settings of the artifact:
  mailroom.pymodels.btyd.with_btyd_feature), so its PSI is measured like
  any other feature's.
  The calendar: the reference is the version's validation date, the current
  population the scoring date, some days later. A calendar feature
  (`monitoring_calendar_features`: the age of a relationship, such as
  tenure_days) moves with the calendar by construction, and how it moves
  depends on who joins and leaves the population, so its drift warns at
  most; it still fails when it looks broken: its share of nulls moved by
  `monitoring_calendar_null_shift` or more. And while the data is young (it
  begins less than `monitoring_young_history_days` before the reference
  date, the oldest tenure telling), the population itself drifts by
  construction: every customer is new, windows are not yet full, the
  population of a rule like churn's grows with the data. Then every PSI,
  the score's included, warns at most, with a note saying so.
- `realized_roc_auc`: for every model, version and scored as-of date D of
  fct_propensity_score_history whose label window has ended by the current
  scoring date (D + horizon <= as-of date), the ROC-AUC of the scores stored
  then against what happened. The outcome is the label rule of
  int_propensity__examples: an order placed in [start of D + 1,
  start of D + 1 + horizon) that the current cut-off knows (known_at before
  it) and that has not been cancelled or refunded by then; purchase = such
  an order, churn = none. A date whose people all had the same outcome gets
  a null value and a note.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from mailroom.pymodels.bridge import for_warehouse, to_pandas
from mailroom.pymodels.btyd import with_btyd_feature
from mailroom.pymodels.propensity import bin_shares

PSI = "psi"
REALIZED_ROC_AUC = "realized_roc_auc"
SCORE_SUBJECT = "score"
OUTPUT_COLUMNS = [
    "model_name",
    "model_version",
    "check_name",
    "subject",
    "value",
    "status",
    "warn_threshold",
    "fail_threshold",
    "reference_value",
    "reference_rows",
    "current_rows",
    "positives",
    "scored_as_of_date",
    "label_window_end_date",
    "as_of_date",
    "measured_at",
    "note",
]


# --------------------------------------------------------------------------- population stability


def psi(reference: list[float], current: list[float], epsilon: float = 1e-4) -> float:
    """Population stability index sum((current - reference) * ln(current / reference)).

    Shares below `epsilon` count as `epsilon`, so an empty bin adds a large
    but finite term (a bin empty on both sides adds nothing).
    """
    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(current, dtype="float64")
    if ref.shape != cur.shape:
        raise ValueError(f"psi: {len(ref)} reference shares but {len(cur)} current shares")
    ref = np.clip(ref, epsilon, None)
    cur = np.clip(cur, epsilon, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_status(value: float | None, warn: float, fail: float) -> str:
    """`fail` from the fail threshold, `warn` from the warn threshold, else `ok`."""
    if value is None or not np.isfinite(value):
        return "warn"
    if value >= fail:
        return "fail"
    if value >= warn:
        return "warn"
    return "ok"


def champions(versions: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """The versions fct_propensity_scores scored with today, one per model."""
    used = scores[["model_name", "model_version"]].drop_duplicates()
    return versions.merge(used, on=["model_name", "model_version"]).drop_duplicates("model_name")


def calendar_gap_days(champion: pd.Series, as_of_date) -> int:
    """Days from the version's reference date (its validation date) to the scoring date."""
    reference_date = champion.get("validation_date")
    if as_of_date is None or reference_date is None or pd.isna(reference_date):
        return 0
    return max(0, (pd.Timestamp(as_of_date) - pd.Timestamp(reference_date)).days)


def population_stability(
    champion: pd.Series,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    settings: dict,
    as_of_date=None,
) -> list[dict]:
    """PSI rows of one model: every feature of its training reference, then the score.

    `scores`: the model's rows of fct_propensity_scores (person_id, score,
    model_version); `features`: int_customers__features; `as_of_date` the
    scoring date. The calendar is taken into account (see the module
    docstring): a calendar feature fails only when its share of nulls moved,
    and while the data is young every PSI warns at most.
    """
    model_name = champion["model_name"]
    artifact = json.loads(champion["artifact"]) or {}
    reference = artifact.get("reference") or {}
    base = {
        "model_name": model_name,
        "model_version": champion["model_version"],
        "check_name": PSI,
        "warn_threshold": settings["psi_warn"],
        "fail_threshold": settings["psi_fail"],
        "reference_rows": champion.get("train_rows"),
        "current_rows": len(scores),
    }
    if not reference:
        return [
            {
                **base,
                "subject": SCORE_SUBJECT,
                "status": "warn",
                "note": "the version has no training reference",
            }
        ]
    if scores.empty:
        return [
            {**base, "subject": SCORE_SUBJECT, "status": "warn", "note": "the model scored nobody"}
        ]
    notes = []
    scored_versions = sorted(set(scores["model_version"].dropna()) - {champion["model_version"]})
    if scored_versions:
        notes.append(
            f"scored by {', '.join(scored_versions)}, not the champion: rebuild fct_propensity_scores"
        )
    people = scores[["person_id"]].merge(features, on="person_id", how="left")
    # the BTYD feature of the people it scored, as scoring computed it (fitted on everyone)
    people = with_btyd_feature(people, artifact, features)
    subjects = [
        (name, bins, people.get(name)) for name, bins in (reference.get("features") or {}).items()
    ]
    if reference.get("score"):
        subjects.append((SCORE_SUBJECT, reference["score"], scores["score"]))
    # Only the score and the features the model leans on most can fail the
    # build; drift in a feature the model hardly uses warns at most.
    importance = json.loads(champion.get("feature_importance") or "[]")
    top = settings.get("fail_top_features", 10)
    failable = {i["feature"] for i in importance[:top]} | {SCORE_SUBJECT}
    gap = calendar_gap_days(champion, as_of_date)
    calendar = set(settings.get("calendar_features") or ())
    # Days of data before the reference date: the oldest tenure today, less the gap.
    tenure = pd.to_numeric(features.get("tenure_days", pd.Series(dtype="float64")), errors="coerce")
    history_days = None if tenure.isna().all() else float(tenure.max()) - gap
    young = history_days is not None and history_days < settings.get("young_history_days", 0)
    rows = []
    for name, bins, values in subjects:
        note = list(notes)
        if values is None:
            values = pd.Series(np.nan, index=people.index)
            note.append("missing from int_customers__features (counted as null)")
        current = bin_shares(values, bins["edges"])
        value = psi(bins["shares"], current, settings["psi_epsilon"])
        status = psi_status(value, settings["psi_warn"], settings["psi_fail"])
        if status == "fail" and name not in failable:
            status = "warn"
            note.append(f"not among the model's {top} most important features: warns only")
        if status == "fail" and name in calendar:
            null_shift = abs(current[-1] - bins["shares"][-1])
            if null_shift < settings.get("calendar_null_shift", 0.1):
                status = "warn"
                note.append(
                    f"calendar feature: moves with the {gap} days since the reference, warns only"
                )
            else:
                note.append(f"calendar feature whose share of nulls moved by {null_shift:.2f}")
        if status == "fail" and young:
            status = "warn"
            note.append(
                f"the data begins {history_days:.0f} days before the reference date (young history,"
                f" < {settings['young_history_days']}): its population drifts by construction, warns only"
            )
        if name in settings["excluded_features"]:
            status = "excluded"
            note.append("in monitoring_excluded_features")
        rows.append(
            {
                **base,
                "subject": name,
                "value": value,
                "status": status,
                "note": "; ".join(note) or None,
            }
        )
    return rows


# --------------------------------------------------------------------------- realized ROC-AUC


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC-AUC of scores p against 0/1 labels y (Mann-Whitney, ties count half); None with one class."""
    y = np.asarray(y, dtype="int64")
    p = np.asarray(p, dtype="float64")
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = pd.Series(p).rank(method="average").to_numpy()
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def standing_orders(orders: pd.DataFrame, cutoff_at: dt.datetime) -> pd.DataFrame:
    """Orders as the cut-off knows them: a person, loaded before it, not cancelled or refunded by it."""
    cutoff = pd.Timestamp(cutoff_at)
    known = orders["known_at"] < cutoff
    standing = orders["reversed_at"].isna() | (orders["reversed_at"] >= cutoff)
    return orders[orders["person_id"].notna() & known & standing]


def label_window(
    scored_as_of_date: dt.date, horizon_days: int
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start of the day after the as-of date, that + horizon days)."""
    start = pd.Timestamp(scored_as_of_date) + pd.Timedelta(days=1)
    return start, start + pd.Timedelta(days=horizon_days)


def realized_labels(
    model_name: str,
    person_ids: pd.Series,
    orders: pd.DataFrame,
    window_start_at: pd.Timestamp,
    window_end_at: pd.Timestamp,
) -> np.ndarray:
    """0/1 outcome per person: purchase = an order in the window; churn = none.

    `orders` are the standing orders (see standing_orders).
    """
    in_window = orders[
        (orders["ordered_at"] >= window_start_at) & (orders["ordered_at"] < window_end_at)
    ]
    bought = person_ids.isin(set(in_window["person_id"])).to_numpy()
    if model_name == "purchase":
        return bought.astype("int64")
    if model_name == "churn":
        return (~bought).astype("int64")
    raise ValueError(f"realized_labels: unknown model {model_name!r}")


def realized_roc_auc(
    history: pd.DataFrame,
    orders: pd.DataFrame,
    horizons: dict[str, int],
    as_of_date: dt.date,
    as_of_at: dt.datetime,
    validation_auc: dict[str, float],
    auc_drop_warn: float = 0.05,
) -> list[dict]:
    """Realized ROC-AUC rows of every (model, version, scored as-of date) whose label window has ended.

    `history`: fct_propensity_score_history rows (model_name, model_version,
    person_id, score, as_of_date); `orders`: fct_orders rows (person_id,
    ordered_at, known_at, reversed_at); the cut-off is the current as_of_at.
    Status `warn` when the realized ROC-AUC is more than `auc_drop_warn` below
    the version's validation ROC-AUC (the model did worse live than tested).
    """
    standing = standing_orders(orders, as_of_at)
    current = pd.Timestamp(as_of_date)
    history = history.assign(as_of_date=pd.to_datetime(history["as_of_date"]))
    rows = []
    for (model_name, model_version, scored), part in history.groupby(
        ["model_name", "model_version", "as_of_date"], sort=True
    ):
        horizon = horizons.get(model_name)
        if horizon is None or scored + pd.Timedelta(days=horizon) > current:
            continue
        start, end = label_window(scored.date(), horizon)
        y = realized_labels(model_name, part["person_id"], standing, start, end)
        value = roc_auc(y, part["score"].to_numpy(dtype="float64"))
        reference = validation_auc.get(model_version)
        dropped = value is not None and reference is not None and value < reference - auc_drop_warn
        rows.append(
            {
                "model_name": model_name,
                "model_version": model_version,
                "check_name": REALIZED_ROC_AUC,
                "subject": scored.strftime("%Y-%m-%d"),
                "value": value,
                "status": "warn" if dropped else "ok",
                "reference_value": reference,
                "current_rows": len(part),
                "positives": int(y.sum()),
                "scored_as_of_date": scored,
                "label_window_end_date": scored + pd.Timedelta(days=horizon),
                "note": (
                    "a single outcome in the label window: no ROC-AUC"
                    if value is None
                    else f"more than {auc_drop_warn} below the validation ROC-AUC"
                    if dropped
                    else None
                ),
            }
        )
    return rows


# --------------------------------------------------------------------------- the report


FLOAT_COLUMNS = ("value", "warn_threshold", "fail_threshold", "reference_value")
INTEGER_COLUMNS = ("reference_rows", "current_rows", "positives")
TIMESTAMP_COLUMNS = ("scored_as_of_date", "label_window_end_date", "as_of_date", "measured_at")


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The output columns with fixed types, whatever the rows (none, all-null columns)."""
    out = frame.reindex(columns=OUTPUT_COLUMNS).copy()
    for c in OUTPUT_COLUMNS:
        if c in FLOAT_COLUMNS:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
        elif c in INTEGER_COLUMNS:
            out[c] = pd.to_numeric(out[c], errors="coerce").astype("Int64")
        elif c in TIMESTAMP_COLUMNS:
            # dates travel as midnight timestamps, as in fct_propensity_scores
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
        else:
            out[c] = out[c].astype("string")
    return out


def monitor(
    versions: pd.DataFrame,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    history: pd.DataFrame,
    orders: pd.DataFrame,
    settings: dict,
    as_of_date: dt.date | None,
    as_of_at: dt.datetime | None,
    measured_at: dt.datetime,
) -> pd.DataFrame:
    """Every check: PSI of each model's champion, realized ROC-AUC of each matured scored date."""
    rows = []
    for _, champion in champions(versions, scores).iterrows():
        model_scores = scores[scores["model_name"] == champion["model_name"]]
        rows.extend(population_stability(champion, model_scores, features, settings, as_of_date))
    if as_of_date is not None and history is not None and len(history):
        validation_auc = dict(zip(versions["model_version"], versions["roc_auc"], strict=True))
        rows.extend(
            realized_roc_auc(
                history,
                orders,
                settings["horizons"],
                as_of_date,
                as_of_at,
                validation_auc,
                settings.get("auc_drop_warn", 0.05),
            )
        )
    out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    out["as_of_date"] = pd.Timestamp(as_of_date) if as_of_date is not None else pd.NaT
    out["measured_at"] = measured_at
    out = out.sort_values(["model_name", "check_name", "model_version", "subject"], kind="stable")
    return typed(out.reset_index(drop=True))


def timestamp_literal(value) -> str:
    return f"cast('{pd.Timestamp(value).isoformat(sep=' ')}' as timestamp)"


def model(dbt, session):
    psi_warn = dbt.config.meta_get("monitoring_psi_warn")
    psi_fail = dbt.config.meta_get("monitoring_psi_fail")
    psi_epsilon = dbt.config.meta_get("monitoring_psi_epsilon")
    excluded = dbt.config.meta_get("monitoring_excluded_features")
    fail_top_features = dbt.config.meta_get("monitoring_fail_top_features")
    auc_drop_warn = dbt.config.meta_get("monitoring_auc_drop_warn")
    calendar_features = dbt.config.meta_get("monitoring_calendar_features")
    young_history_days = dbt.config.meta_get("monitoring_young_history_days")
    calendar_null_shift = dbt.config.meta_get("monitoring_calendar_null_shift")
    purchase_horizon_days = dbt.config.meta_get("purchase_horizon_days")
    churn_horizon_days = dbt.config.meta_get("churn_horizon_days")
    horizons = {"purchase": int(purchase_horizon_days), "churn": int(churn_horizon_days)}
    settings = {
        "psi_warn": float(psi_warn if psi_warn is not None else 0.1),
        "psi_fail": float(psi_fail if psi_fail is not None else 0.25),
        "psi_epsilon": float(psi_epsilon if psi_epsilon is not None else 1e-4),
        "excluded_features": set(excluded or []),
        "fail_top_features": int(10 if fail_top_features is None else fail_top_features),
        "auc_drop_warn": float(0.05 if auc_drop_warn is None else auc_drop_warn),
        "calendar_features": set(calendar_features or []),
        "young_history_days": int(young_history_days or 0),
        "calendar_null_shift": float(0.1 if calendar_null_shift is None else calendar_null_shift),
        "horizons": horizons,
    }
    versions = to_pandas(
        dbt.ref("int_propensity__model_versions"),
        [
            "model_name",
            "model_version",
            "promoted_at",
            "train_rows",
            "roc_auc",
            "feature_importance",
            "artifact",
            "validation_date",
        ],
    )
    scores = to_pandas(
        dbt.ref("fct_propensity_scores"), ["person_id", "model_name", "model_version", "score"]
    )
    features = to_pandas(dbt.ref("int_customers__features"))
    as_of_date = features["as_of_date"].max() if len(features) else None
    as_of_at = features["as_of_at"].max() if len(features) else None
    history = orders = None
    if as_of_date is not None:
        # Only scored dates whose shortest label window can have ended, and the orders that can fall in one.
        last_scored = (pd.Timestamp(as_of_date) - pd.Timedelta(days=min(horizons.values()))).date()
        history = to_pandas(
            dbt.ref("fct_propensity_score_history").filter(
                f"as_of_date <= cast('{last_scored}' as date)"
            ),
            ["model_name", "model_version", "person_id", "score", "as_of_date"],
        )
        first_start = (
            pd.to_datetime(history["as_of_date"]).min() if len(history) else pd.Timestamp(as_of_at)
        )
        orders = to_pandas(
            dbt.ref("fct_orders").filter(f"ordered_at >= {timestamp_literal(first_start)}"),
            ["person_id", "ordered_at", "known_at", "reversed_at"],
        )
    measured_at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    report = monitor(
        versions, scores, features, history, orders, settings, as_of_date, as_of_at, measured_at
    )
    return for_warehouse(report, session)
