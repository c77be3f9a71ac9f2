"""Learned customer segments: k-means over behaviour features, k chosen by silhouette.

One row per person at the scoring as-of date (int_customers__features) with
the cluster they belong to, its readable label and profile, and the
diagnostics of the run (chosen k, silhouette of every k tried).

Steps, every setting from the model's config meta (_clusters__python_models.yml):

1. Features: `cluster_features` lists columns of int_customers__features,
   optionally as `log1p(column)` for heavy-tailed counts and amounts. Nulls
   mean "never" and are imputed by `impute_features`: recency -> the cap
   `cluster_recency_cap_days` (longer than any history), rates and amounts ->
   0. Recency is clipped to the cap, so "never" and "very long ago" meet.
2. Standardize with snowflake-ml's StandardScaler and fit snowflake-ml's
   KMeans for every k in [cluster_k_min, cluster_k_max] on a random sample of
   at most `cluster_fit_sample` people; every person is then predicted.
3. k is the one with the best silhouette (sklearn), measured on one fixed
   random sample of `cluster_silhouette_sample` people for every k, so the
   scores compare; ties go to the smaller k.
4. Clusters are numbered by size (0 = largest) and named from their centroid
   by `cluster_labels`: deterministic rules score archetypes ("loyal big
   spenders", "bargain hunters", "window shoppers"...) from the centroid's
   z-scores and original units; a name taken by several clusters gets each
   one's next best trait as a qualifier. `cluster_profile` says the centroid's
   most distinctive figures in original units.

Why k-means rather than a Gaussian mixture: the selection criterion
(silhouette) and the output (distance to the centroid, a profile read off the
centroid) are both about distances to centres, which is what k-means
optimises; a full-covariance mixture on zero-inflated behaviour data tends to
spend components on degenerate spikes (everyone with exactly 0 visits) and
gives soft memberships the marts do not use. K-means is also linear in rows
and deterministic for a fixed random_state.

The centroid's figures in original units are the centroid transformed back
(expm1 for log1p features): a typical member, closer to the median than the
mean for skewed counts. dim_customer_clusters adds plain means in SQL.

Everything but clustered_at is deterministic for a fixed random_state (rows
are sorted by person_id before sampling).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd

from mailroom.pymodels.bridge import for_warehouse, quiet_snowflake_ml, to_pandas

RECENCY_CAP_DAYS = 730
# A cluster of non-buyers whose typical member is known for at most this long is new.
NEW_DAYS = 90
ALGORITHM = "kmeans"
OUTPUT_COLUMNS = [
    "person_id",
    "cluster_id",
    "cluster_label",
    "cluster_profile",
    "cluster_centroid",
    "distance_to_centroid",
    "n_clusters",
    "silhouette_score",
    "silhouette_by_k",
    "algorithm",
    "as_of_date",
    "clustered_at",
]


# --------------------------------------------------------------------------- features

# Windowed feature names: {measure}_{days}d, and how to say the measure.
_WINDOWED = re.compile(r"^([a-z_]+?)_(\d+)d$")
_MEASURE_WORDS = {
    "orders": "orders",
    "product_views": "product views",
    "cart_adds": "cart adds",
    "visits": "visits",
    "email_deliveries": "e-mails delivered",
    "email_opens": "e-mail opens",
    "email_clicks": "e-mail clicks",
}


class Feature(NamedTuple):
    """One clustering feature: a column of the input, optionally log1p-transformed."""

    spec: str  # as written in cluster_features, e.g. "log1p(orders_lifetime)"
    column: str  # the input column, e.g. "orders_lifetime"
    transform: str  # "log1p" or "identity"

    @property
    def key(self) -> str:
        """A safe column name for the design matrix."""
        return self.column if self.transform == "identity" else f"{self.transform}_{self.column}"


_SPEC = re.compile(r"^\s*(?:(log1p)\s*\(\s*([a-z0-9_]+)\s*\)|([a-z0-9_]+))\s*$")


def parse_features(specs: list[str]) -> list[Feature]:
    """`["log1p(orders_lifetime)", "discount_share"]` -> Features; rejects anything else."""
    features = []
    for spec in specs:
        match = _SPEC.match(str(spec).lower())
        if not match:
            raise ValueError(f"cluster_features: cannot read {spec!r} (column or log1p(column))")
        if match.group(1):
            features.append(Feature(str(spec), match.group(2), match.group(1)))
        else:
            features.append(Feature(str(spec), match.group(3), "identity"))
    columns = [f.column for f in features]
    if len(set(columns)) != len(columns):
        raise ValueError("cluster_features: each column may appear once")
    return features


def is_recency(column: str) -> bool:
    return column.startswith(("days_since_", "hours_since_"))


def recency_cap(column: str, cap_days: float) -> float:
    return cap_days * 24 if column.startswith("hours_since_") else cap_days


def impute_features(
    features: pd.DataFrame, columns: list[str], cap_days: float = RECENCY_CAP_DAYS
) -> pd.DataFrame:
    """The columns as float with "never" (null) made meaningful.

    - recency (days_since_*, hours_since_*): null (never happened) -> the cap,
      and values beyond the cap are clipped to it;
    - everything else (counts, amounts, rates, shares, scores): null -> 0;
      negative windowed amounts (refunds exceeding orders) -> 0.
    """
    out = pd.DataFrame(index=features.index)
    for column in columns:
        values = pd.to_numeric(features[column], errors="coerce").astype("float64")
        if is_recency(column):
            cap = recency_cap(column, cap_days)
            out[column] = values.fillna(cap).clip(lower=0, upper=cap)
        else:
            out[column] = values.fillna(0.0).clip(lower=0)
    return out


def design_matrix(imputed: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Transformed features, one column per Feature.key."""
    out = pd.DataFrame(index=imputed.index)
    for f in features:
        values = imputed[f.column].to_numpy(dtype="float64")
        out[f.key] = np.log1p(values) if f.transform == "log1p" else values
    return out


def original_units(value: float, feature: Feature) -> float:
    """A transformed value back in the column's units (never below 0, like the inputs)."""
    raw = float(np.expm1(value)) if feature.transform == "log1p" else float(value)
    return max(0.0, raw)


# --------------------------------------------------------------------------- clustering


def sample_index(n: int, size: int, random_state: int) -> np.ndarray:
    """Sorted positions of a fixed random sample of min(n, size) rows."""
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n, size=size, replace=False))


def standardize(x: pd.DataFrame, fit_rows: np.ndarray):
    """z-scores of every row, scaler fitted on fit_rows (snowflake-ml StandardScaler).

    Returns (z as a numpy array, means, scales) in the order of x.columns.
    """
    from snowflake.ml.modeling.preprocessing import StandardScaler

    inputs = list(x.columns)
    outputs = [f"z_{c}" for c in inputs]
    scaler = StandardScaler(input_cols=inputs, output_cols=outputs)
    quiet_snowflake_ml()
    scaler.fit(x.iloc[fit_rows].reset_index(drop=True))
    z = scaler.transform(x.reset_index(drop=True))[outputs].to_numpy(dtype="float64")
    fitted = scaler.to_sklearn()
    scale = np.asarray(fitted.scale_, dtype="float64")
    return z, np.asarray(fitted.mean_, dtype="float64"), scale


def fit_kmeans(
    z: np.ndarray,
    k: int,
    random_state: int,
    fit_rows: np.ndarray,
    predict_rows: np.ndarray | None = None,
):
    """snowflake-ml KMeans fitted on z[fit_rows]; returns (labels, centres).

    Labels are KMeans' predictions for z[predict_rows] (every row when None).
    """
    from snowflake.ml.modeling.cluster import KMeans

    inputs = [f"z{i}" for i in range(z.shape[1])]
    frame = pd.DataFrame(z, columns=inputs)
    kmeans = KMeans(
        n_clusters=k,
        n_init=10,
        random_state=random_state,
        input_cols=inputs,
        output_cols=["cluster"],
    )
    targets = frame if predict_rows is None else frame.iloc[predict_rows].reset_index(drop=True)
    quiet_snowflake_ml()
    kmeans.fit(frame.iloc[fit_rows].reset_index(drop=True))
    labels = kmeans.predict(targets)["cluster"].to_numpy(dtype="int64")
    centres = np.asarray(kmeans.to_sklearn().cluster_centers_, dtype="float64")
    return labels, centres


def nearest_centre(z: np.ndarray, centres: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """The index of each row's nearest centre (lowest index on ties), as KMeans.predict."""
    out = np.empty(len(z), dtype="int64")
    squared = (centres**2).sum(axis=1)
    for start in range(0, len(z), chunk):
        block = z[start : start + chunk]
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is the same for every centre
        out[start : start + chunk] = np.argmin(squared[None, :] - 2.0 * block @ centres.T, axis=1)
    return out


def silhouette(z: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(silhouette_score(z, labels, metric="euclidean"))


def choose_k(scores: dict[int, float]) -> int:
    """The k with the highest silhouette; ties (to 4 decimals) go to the smaller k."""
    valid = {k: s for k, s in scores.items() if s == s}  # drop NaN
    if not valid:
        raise ValueError("no k produced a silhouette (fewer than 2 distinct clusters)")
    return min(valid, key=lambda k: (-round(valid[k], 4), k))


def silhouette_json(scores: dict[int, float]) -> str:
    """{"3":0.3112,"4":0.3504}: compact, keys in k order, 4 decimals, null for NaN."""
    return json.dumps(
        {str(k): (round(s, 4) if s == s else None) for k, s in sorted(scores.items())},
        separators=(",", ":"),
    )


def sweep_k(
    z: np.ndarray,
    k_values: list[int],
    random_state: int,
    fit_rows: np.ndarray,
    silhouette_rows: np.ndarray,
) -> dict:
    """Fit every k; silhouette on the same rows for each. Returns fits and scores by k.

    Only the silhouette rows are labelled while sweeping; every row is then
    labelled by the chosen k's centres (fits[k] = (labels, centres) for it).
    """
    centres_by_k, scores = {}, {}
    for k in k_values:
        labels, centres = fit_kmeans(z, k, random_state, fit_rows, silhouette_rows)
        centres_by_k[k] = centres
        scores[k] = silhouette(z[silhouette_rows], labels)
    best_k = choose_k(scores)
    fits = {best_k: (nearest_centre(z, centres_by_k[best_k]), centres_by_k[best_k])}
    return {"fits": fits, "scores": scores, "best_k": best_k}


def renumber_by_size(labels: np.ndarray, centres: np.ndarray):
    """Cluster ids by decreasing size (ties by old id): 0 is the largest cluster."""
    sizes = np.bincount(labels, minlength=len(centres))
    order = sorted(range(len(centres)), key=lambda c: (-sizes[c], c))
    mapping = np.empty(len(centres), dtype="int64")
    mapping[order] = np.arange(len(centres))
    return mapping[labels], centres[order]


# --------------------------------------------------------------------------- labels


class Centroid(NamedTuple):
    """A cluster centre keyed by input column: z-score, value in original units, members."""

    z: dict[str, float]
    value: dict[str, float]
    size: int = 1


class Archetype(NamedTuple):
    name: str  # plural noun phrase: the label
    qualifier: str  # adjective telling apart two clusters with the same name


ARCHETYPES = {
    "loyal": Archetype("loyal big spenders", "big-spending"),
    "regular": Archetype("regular buyers", "regular"),
    "engaged": Archetype("engaged subscribers", "e-mail engaged"),
    "premium": Archetype("premium basket buyers", "high-basket"),
    "bargain": Archetype("bargain hunters", "discount-driven"),
    "window": Archetype("window shoppers", "browsing"),
    "newsletter": Archetype("newsletter readers", "newsletter-reading"),
    "lapsed": Archetype("lapsed buyers", "lapsed"),
    "one_time": Archetype("one-time buyers", "one-time"),
    "new": Archetype("new prospects", "new"),
    "prospect": Archetype("active prospects", "active"),
    "dormant": Archetype("dormant contacts", "inactive"),
    "casual": Archetype("casual customers", "mixed"),
}

# Archetypes that say little beyond the cluster's name: never used as qualifiers.
FALLBACKS = ("casual", "regular", "prospect")

# Only meaningful for people who ordered: compared among buying clusters, since
# the non-buyers' zeros would make every buying cluster look high on them.
PURCHASE_ONLY = ("avg_order_value", "discount_share", "days_since_last_order")


def is_buying(value: dict[str, float]) -> bool:
    """The centroid's typical member has ordered (unknown without an orders feature)."""
    if "orders_lifetime" in value:
        return value["orders_lifetime"] >= 0.5
    if "revenue_lifetime" in value:
        return value["revenue_lifetime"] >= 1.0
    return True


def buyer_reference(centroids: list[Centroid]) -> dict[str, float]:
    """Size-weighted mean z of the buying clusters for the PURCHASE_ONLY columns."""
    buying = [c for c in centroids if is_buying(c.value)]
    total = sum(c.size for c in buying)
    if not total:
        return {}
    return {
        col: sum(c.z[col] * c.size for c in buying) / total
        for col in PURCHASE_ONLY
        if all(col in c.z for c in buying)
    }


def archetype_scores(
    centroid: Centroid, reference: dict[str, float], lapsed_days: float = 180
) -> dict[str, float]:
    """How well a centroid fits each archetype it qualifies for (higher fits better).

    Scores are in z units of the trait that defines the archetype, so they
    compare across archetypes; `casual` (0.25) is the fallback. A column that
    was not clustered on counts as z = 0 and gates nothing, so the rules
    degrade gracefully with fewer features.
    """

    def z(col: str) -> float:
        return float(centroid.z.get(col, 0.0))

    def relative(col: str) -> float:
        return z(col) - reference.get(col, 0.0)

    value = centroid.value
    buying = is_buying(value)
    orders = value.get("orders_lifetime")
    few_orders = not buying or (orders is not None and orders < 1.5)
    recency = value.get("days_since_last_order")
    lapsed = buying and recency is not None and recency > lapsed_days
    spend = (z("orders_lifetime") + z("revenue_lifetime")) / 2
    browsing = (z("product_views_90d") + z("visits_90d") + z("cart_adds_90d")) / 3
    email = (2 * z("open_rate_90d") + z("click_rate_90d")) / 3

    scores = {"casual": 0.25}
    if buying:
        if lapsed:
            scores["lapsed"] = 1.0 + max(0.0, relative("days_since_last_order"))
        else:
            scores["regular"] = 0.5
            if spend > 0.75:
                scores["loyal"] = spend
        if few_orders:
            scores["one_time"] = 0.75
        if relative("avg_order_value") > 0.3:
            scores["premium"] = 0.5 + relative("avg_order_value")
        if relative("discount_share") > 0.3:
            scores["bargain"] = 0.5 + relative("discount_share")
        if email > 0.5 and not few_orders:
            scores["engaged"] = email
    else:
        activity = max(browsing, email)
        tenure = value.get("tenure_days")
        if (tenure is not None and tenure <= NEW_DAYS) or (tenure is None and z("tenure_days") < 0):
            scores["new"] = 0.5 + max(0.0, -z("tenure_days"))
        if activity <= 0:
            scores["dormant"] = 0.5 - activity
        else:
            scores["prospect"] = 0.45
    if browsing > 0.5 and few_orders:
        scores["window"] = browsing
    if email > 0.5 and few_orders:
        scores["newsletter"] = email
    return scores


_CONTRAST = {
    "orders_lifetime": ("more orders", "fewer orders"),
    "revenue_lifetime": ("higher revenue", "lower revenue"),
    "avg_order_value": ("bigger baskets", "smaller baskets"),
    "discount_share": ("more discounts", "fewer discounts"),
    "days_since_last_order": ("older orders", "recent orders"),
    "tenure_days": ("long-standing", "newer"),
    "open_rate": ("more opens", "fewer opens"),
    "click_rate": ("more clicks", "fewer clicks"),
}


def contrast_phrase(column: str, higher: bool) -> str:
    """How a cluster differs on one column: "more orders", "fewer visits", "newer"."""
    windowed = _WINDOWED.match(column)
    key = windowed.group(1) if windowed and column not in _CONTRAST else column
    if key in _CONTRAST:
        return _CONTRAST[key][0 if higher else 1]
    words = _MEASURE_WORDS.get(key, key.replace("_", " "))
    return f"{'more' if higher else 'fewer'} {words}"


def cluster_labels(centroids: list[Centroid], lapsed_days: float = 180) -> list[str]:
    """A unique readable label per cluster, from its centroid.

    Each cluster takes its best-scoring archetype. When several clusters take
    the same one, each (best fit first) is qualified by its second trait: its
    next best archetype ("lapsed buyers (discount-driven)") or else the column
    on which it stands furthest from the group's mean ("lapsed buyers (newer)"),
    whichever is first not yet used in the group. Should that still collide,
    the cluster number is appended.
    """
    reference = buyer_reference(centroids)
    fits = [archetype_scores(c, reference, lapsed_days) for c in centroids]
    ranked = [sorted(f, key=lambda a, f=f: (-f[a], a)) for f in fits]
    primary = [r[0] for r in ranked]
    labels = [ARCHETYPES[p].name for p in primary]
    for name in sorted(set(primary)):
        group = [i for i, p in enumerate(primary) if p == name]
        if len(group) < 2:
            continue
        group.sort(key=lambda i: (-fits[i][name], i))
        columns = sorted({c for i in group for c in centroids[i].z})
        mean = {c: np.mean([centroids[i].z.get(c, 0.0) for i in group]) for c in columns}
        taken: set[str] = set()
        for i in group:
            traits = [ARCHETYPES[a].qualifier for a in ranked[i][1:] if a not in FALLBACKS]
            gap = {c: centroids[i].z.get(c, 0.0) - mean[c] for c in columns}
            apart = sorted((c for c in columns if abs(gap[c]) > 0.1), key=lambda c: -abs(gap[c]))
            traits += [contrast_phrase(c, gap[c] > 0) for c in apart]
            qualifier = next((t for t in traits if t not in taken), None)
            if qualifier is not None:
                taken.add(qualifier)
                labels[i] = f"{ARCHETYPES[name].name} ({qualifier})"
    counts = {label: labels.count(label) for label in labels}
    return [f"{label} #{i}" if counts[label] > 1 else label for i, label in enumerate(labels)]


# --------------------------------------------------------------------------- profiles

# Said by "no orders" when the typical member never ordered.
_ORDER_TRAITS = {
    "orders_lifetime",
    "revenue_lifetime",
    "discount_lifetime",
    "avg_order_value",
    "discount_share",
    "days_since_first_order",
    "days_since_last_order",
}


def _number(x: float) -> str:
    return f"{x:.1f}" if abs(x) < 10 else f"{x:,.0f}"


def describe(column: str, value: float, currency: str = "EUR", cap_days: float = 730) -> str:
    """One trait in original units, e.g. "last order 25 days ago", "opens 48% of e-mails"."""
    money = f"{currency} {value:,.0f}"
    fixed = {
        "orders_lifetime": f"{_number(value)} orders",
        "revenue_lifetime": f"{money} revenue",
        "discount_lifetime": f"{money} discounts",
        "avg_order_value": f"{money} per order",
        "discount_share": f"{value:.0%} of spend discounted",
        "tenure_days": f"known for {value:,.0f} days",
        "rfm_score": f"RFM score {value:.0f}",
    }
    if column in fixed:
        return fixed[column]
    if is_recency(column):
        event = column.split("_since_", 1)[1].replace("_", " ")
        unit = "hours" if column.startswith("hours_") else "days"
        if value >= 0.98 * recency_cap(column, cap_days):
            return f"no {event.removeprefix('last ')} in {cap_days:,.0f} days"
        return f"{event} {value:,.0f} {unit} ago"
    windowed = _WINDOWED.match(column)
    if windowed:
        measure, days = windowed.groups()
        if measure in ("open_rate", "click_rate"):
            verb = "opens" if measure == "open_rate" else "clicks"
            return f"{verb} {value:.0%} of e-mails ({days} days)"
        if measure == "revenue":
            return f"{money} revenue in {days} days"
        words = _MEASURE_WORDS.get(measure, measure.replace("_", " "))
        if value < 0.05:
            return f"no {words} in {days} days"
        return f"{_number(value)} {words} in {days} days"
    return f"{column.replace('_', ' ')} {_number(value)}"


def cluster_profile(
    centroid: Centroid,
    order: list[str],
    reference: dict[str, float] | None = None,
    currency: str = "EUR",
    cap_days: float = RECENCY_CAP_DAYS,
    max_parts: int = 5,
) -> str:
    """Purchases first, then the most distinctive other features, `max_parts` in all.

    "2.9 orders, EUR 193 revenue, last order 52 days ago, 6.2 product views in
    90 days..."; a cluster whose typical member never ordered starts "No
    orders". Distinctive is the largest |z|; for a buying cluster the
    PURCHASE_ONLY columns count relative to `reference` (buyer_reference).
    """
    value = centroid.value
    reference = reference or {}
    if not is_buying(value):
        parts, skip = ["no orders"], _ORDER_TRAITS
    else:
        lead = [
            c
            for c in ("orders_lifetime", "revenue_lifetime", "days_since_last_order")
            if c in value
        ]
        parts = [describe(c, value[c], currency, cap_days) for c in lead]
        skip = set(lead)

    def distinctive(col: str) -> float:
        shift = reference.get(col, 0.0) if col in PURCHASE_ONLY else 0.0
        return abs(centroid.z[col] - shift)

    rest = [c for c in order if c not in skip and c in centroid.z]
    traits = max(0, max_parts - len(parts))
    top = sorted(rest, key=lambda c: (-distinctive(c), order.index(c)))[:traits]
    parts += [describe(c, value[c], currency, cap_days) for c in rest if c in top]
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def centroid_json(centroid: Centroid, order: list[str]) -> str:
    """{"orders_lifetime":{"value":2.89,"z":1.01},...}: the centroid, both scales."""
    return json.dumps(
        {
            c: {"value": float(f"{round(centroid.value[c], 6):.4g}"), "z": round(centroid.z[c], 2)}
            for c in order
        },
        separators=(",", ":"),
    )


# --------------------------------------------------------------------------- model


def empty_output() -> pd.DataFrame:
    """No clusters, with the column types of a real run (the contract downstream checks them)."""
    return pd.DataFrame(
        {
            "person_id": pd.Series(dtype="string"),
            "cluster_id": pd.Series(dtype="int64"),
            "cluster_label": pd.Series(dtype="string"),
            "cluster_profile": pd.Series(dtype="string"),
            "cluster_centroid": pd.Series(dtype="string"),
            "distance_to_centroid": pd.Series(dtype="float64"),
            "n_clusters": pd.Series(dtype="int64"),
            "silhouette_score": pd.Series(dtype="float64"),
            "silhouette_by_k": pd.Series(dtype="string"),
            "algorithm": pd.Series(dtype="string"),
            "as_of_date": pd.Series(dtype="datetime64[ns]").dt.date,
            "clustered_at": pd.Series(dtype="datetime64[ns]"),
        }
    )[OUTPUT_COLUMNS]


def cluster_customers(
    people: pd.DataFrame,
    feature_specs: list[str],
    k_min: int = 3,
    k_max: int = 8,
    silhouette_sample: int = 5000,
    fit_sample: int = 200_000,
    random_state: int = 42,
    cap_days: float = RECENCY_CAP_DAYS,
    lapsed_days: float = 180,
    currency: str = "EUR",
    clustered_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per person of `people` (int_customers__features) with their cluster."""
    features = parse_features(feature_specs)
    columns = [f.column for f in features]
    missing = [c for c in ["person_id", "as_of_date", *columns] if c not in people.columns]
    if missing:
        raise ValueError(f"int_customers__features lacks {missing}")
    people = people.sort_values("person_id", kind="stable").reset_index(drop=True)
    if people.empty:
        return empty_output()

    imputed = impute_features(people, columns, cap_days)
    x = design_matrix(imputed, features)
    n = len(x)
    fit_rows = sample_index(n, fit_sample, random_state)
    silhouette_rows = sample_index(n, silhouette_sample, random_state + 1)
    distinct = len(x.drop_duplicates())
    k_values = [k for k in range(max(2, k_min), k_max + 1) if k < distinct]
    if not k_values:
        # A new or tiny warehouse: no clusters yet, rather than a failed build.
        warnings.warn(
            f"fct_customer_clusters: {distinct} distinct behaviour profiles, too few for "
            f"k in [{k_min}, {k_max}]; no clusters this run",
            stacklevel=2,
        )
        return empty_output()

    z, means, scales = standardize(x, fit_rows)
    sweep = sweep_k(z, k_values, random_state, fit_rows, silhouette_rows)
    k = sweep["best_k"]
    labels, centres = renumber_by_size(*sweep["fits"][k])

    sizes = np.bincount(labels, minlength=len(centres))
    centroids = [
        Centroid(
            z={f.column: float(c) for f, c in zip(features, centre, strict=True)},
            value={
                f.column: original_units(t, f)
                for f, t in zip(features, centre * scales + means, strict=True)
            },
            size=int(size),
        )
        for centre, size in zip(centres, sizes, strict=True)
    ]
    names = cluster_labels(centroids, lapsed_days)
    reference = buyer_reference(centroids)
    profiles = [cluster_profile(c, columns, reference, currency, cap_days) for c in centroids]
    centroid_texts = [centroid_json(c, columns) for c in centroids]

    if clustered_at is None:
        clustered_at = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    out = pd.DataFrame(
        {
            "person_id": people["person_id"].astype(str),
            "cluster_id": labels.astype("int64"),
            "cluster_label": [names[c] for c in labels],
            "cluster_profile": [profiles[c] for c in labels],
            "cluster_centroid": [centroid_texts[c] for c in labels],
            "distance_to_centroid": np.sqrt(((z - centres[labels]) ** 2).sum(axis=1)),
            "n_clusters": k,
            "silhouette_score": sweep["scores"][k],
            "silhouette_by_k": silhouette_json(sweep["scores"]),
            "algorithm": ALGORITHM,
            "as_of_date": pd.to_datetime(people["as_of_date"]).dt.date,
            "clustered_at": clustered_at,
        }
    )
    out["n_clusters"] = out["n_clusters"].astype("int64")
    return out[OUTPUT_COLUMNS]


def model(dbt, session):
    feature_specs = dbt.config.meta_get("cluster_features")
    k_min = dbt.config.meta_get("cluster_k_min")
    k_max = dbt.config.meta_get("cluster_k_max")
    silhouette_sample = dbt.config.meta_get("cluster_silhouette_sample")
    fit_sample = dbt.config.meta_get("cluster_fit_sample")
    random_state = dbt.config.meta_get("cluster_random_state")
    cap_days = dbt.config.meta_get("cluster_recency_cap_days")
    lapsed_days = dbt.config.meta_get("cluster_lapsed_days")
    currency = dbt.config.meta_get("cluster_currency")
    columns = [f.column for f in parse_features(list(feature_specs))]
    people = to_pandas(dbt.ref("int_customers__features"), ["person_id", "as_of_date", *columns])
    clusters = cluster_customers(
        people,
        list(feature_specs),
        k_min=int(k_min or 3),
        k_max=int(k_max or 8),
        silhouette_sample=int(silhouette_sample or 5000),
        fit_sample=int(fit_sample or 200_000),
        random_state=int(42 if random_state is None else random_state),
        cap_days=float(cap_days or RECENCY_CAP_DAYS),
        lapsed_days=float(lapsed_days or 180),
        currency=str(currency or "EUR"),
    )
    return for_warehouse(clusters, session)
