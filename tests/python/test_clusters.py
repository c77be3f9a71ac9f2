"""Learned segments (fct_customer_clusters): the model's pure functions, no dbt run.

The clustering tests fit snowflake-ml's StandardScaler and KMeans locally on
small synthetic frames; importing snowflake-ml takes a few seconds, once.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import load_model_module
from threadpoolctl import threadpool_limits

FEATURES = [
    "log1p(orders_lifetime)",
    "log1p(revenue_lifetime)",
    "days_since_last_order",
    "log1p(product_views_90d)",
    "open_rate_90d",
    "tenure_days",
]


@pytest.fixture(scope="module")
def clusters():
    return load_model_module("python_models/marts/customers/fct_customer_clusters.py")


# --------------------------------------------------------------------------- features


def test_parse_features_reads_columns_and_log1p(clusters) -> None:
    got = clusters.parse_features(["log1p(orders_lifetime)", "discount_share"])
    assert [(f.column, f.transform, f.key) for f in got] == [
        ("orders_lifetime", "log1p", "log1p_orders_lifetime"),
        ("discount_share", "identity", "discount_share"),
    ]
    with pytest.raises(ValueError, match="cannot read"):
        clusters.parse_features(["sqrt(orders_lifetime)"])
    with pytest.raises(ValueError, match="once"):
        clusters.parse_features(["orders_lifetime", "log1p(orders_lifetime)"])


def test_imputation_makes_never_meaningful(clusters) -> None:
    frame = pd.DataFrame(
        {
            "days_since_last_order": pd.array([None, 12, 900], dtype="Int64"),
            "hours_since_last_cart_add": pd.array([None, 5, 1], dtype="Int64"),
            "open_rate_90d": [None, 0.5, 1.0],
            "avg_order_value": [None, 40.0, 60.0],
            "revenue_90d": [0.0, -30.0, 10.0],
        }
    )
    got = clusters.impute_features(frame, list(frame.columns), cap_days=730)
    assert got["days_since_last_order"].tolist() == [730.0, 12.0, 730.0]  # never, seen, capped
    assert got["hours_since_last_cart_add"].tolist() == [730.0 * 24, 5.0, 1.0]
    assert got["open_rate_90d"].tolist() == [0.0, 0.5, 1.0]  # nothing delivered: 0
    assert got["avg_order_value"].tolist() == [0.0, 40.0, 60.0]
    assert got["revenue_90d"].tolist() == [0.0, 0.0, 10.0]  # refunds beyond orders: 0
    assert not got.isna().any().any()
    assert all(dtype == "float64" for dtype in got.dtypes)


# --------------------------------------------------------------------------- choosing k


def test_choose_k_takes_best_silhouette_ties_to_smaller_k(clusters) -> None:
    assert clusters.choose_k({3: 0.31, 4: 0.35, 5: 0.33}) == 4
    assert clusters.choose_k({3: 0.35001, 4: 0.35004}) == 3  # equal to 4 decimals
    assert clusters.choose_k({3: float("nan"), 4: 0.1}) == 4
    with pytest.raises(ValueError):
        clusters.choose_k({3: float("nan")})
    text = clusters.silhouette_json({4: 0.351234, 3: 0.31, 5: float("nan")})
    assert text == '{"3":0.31,"4":0.3512,"5":null}'


def test_renumber_by_size_makes_the_largest_cluster_zero(clusters) -> None:
    labels = np.array([2, 2, 2, 0, 1, 1])
    centres = np.array([[0.0], [1.0], [2.0]])
    new_labels, new_centres = clusters.renumber_by_size(labels, centres)
    assert new_labels.tolist() == [0, 0, 0, 2, 1, 1]
    assert new_centres.ravel().tolist() == [2.0, 1.0, 0.0]


def blob_people(n_per_blob: int = 150, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Four obvious kinds of people: loyal buyers, lapsed buyers, readers, dormant."""
    rng = np.random.default_rng(seed)
    kinds = {
        # orders, revenue, days since last order, views, open rate, tenure
        "loyal": (8, 800, 20, 30, 0.3, 500),
        "lapsed": (2, 120, 400, 1, 0.1, 600),
        "reader": (0, 0, None, 1, 0.9, 400),
        "dormant": (0, 0, None, 0, 0.0, 700),
    }
    rows, truth = [], []
    for i, (orders, revenue, recency, views, opens, tenure) in enumerate(kinds.values()):
        for _ in range(n_per_blob):
            rows.append(
                {
                    "orders_lifetime": max(0.0, orders * rng.lognormal(0, 0.1)),
                    "revenue_lifetime": max(0.0, revenue * rng.lognormal(0, 0.1)),
                    "days_since_last_order": None
                    if recency is None
                    else int(recency * rng.lognormal(0, 0.1)),
                    "product_views_90d": views * rng.lognormal(0, 0.1),
                    "open_rate_90d": float(np.clip(opens + rng.normal(0, 0.03), 0, 1)),
                    "tenure_days": int(tenure * rng.lognormal(0, 0.1)),
                }
            )
            truth.append(i)
    people = pd.DataFrame(rows)
    people["days_since_last_order"] = people["days_since_last_order"].astype("Int64")
    people.insert(0, "person_id", [f"p{i:05d}" for i in range(len(people))])
    people.insert(1, "as_of_date", pd.Timestamp("2026-09-30"))
    return people, np.array(truth)


def run_blobs(clusters, people: pd.DataFrame) -> pd.DataFrame:
    # One BLAS/OpenMP thread: on a few hundred rows, thread start-up dominates.
    with threadpool_limits(limits=1):
        return clusters.cluster_customers(
            people,
            FEATURES,
            k_min=2,
            k_max=6,
            silhouette_sample=400,
            fit_sample=500,
            random_state=42,
            clustered_at=pd.Timestamp("2026-10-01 06:00:00"),
        )


def test_k_selection_finds_the_obvious_blobs(clusters) -> None:
    people, truth = blob_people()
    out = run_blobs(clusters, people.sample(frac=1.0, random_state=1))
    assert list(out.columns) == clusters.OUTPUT_COLUMNS
    assert len(out) == len(people) and out["person_id"].is_unique
    assert set(out["n_clusters"]) == {4}
    by_k = json.loads(out["silhouette_by_k"].iloc[0])
    assert list(by_k) == ["2", "3", "4", "5", "6"]
    assert max(by_k, key=by_k.get) == "4"
    assert out["silhouette_score"].iloc[0] == pytest.approx(by_k["4"], abs=1e-4)

    # Every blob is exactly one cluster (sizes are equal, so ids follow the old order).
    got = out.set_index("person_id").loc[people["person_id"], "cluster_id"].to_numpy()
    pairs = set(zip(truth.tolist(), got.tolist(), strict=True))
    assert len(pairs) == 4 and len({c for _, c in pairs}) == 4

    labels = out.drop_duplicates("cluster_id").set_index("cluster_id")["cluster_label"]
    assert labels.is_unique
    label_of = {kind: labels[c] for kind, c in pairs}
    assert label_of[0] == "loyal big spenders"
    assert label_of[1] == "lapsed buyers"
    assert label_of[2] == "newsletter readers"
    assert label_of[3] == "dormant contacts"
    assert (out["distance_to_centroid"] >= 0).all()
    assert set(out["algorithm"]) == {"kmeans"}

    # Same input in another order, same random_state: the same clusters.
    again = run_blobs(clusters, people)
    pd.testing.assert_frame_equal(
        out.sort_values("person_id").reset_index(drop=True),
        again.sort_values("person_id").reset_index(drop=True),
    )


# --------------------------------------------------------------------------- labels


def centroid(clusters, size=100, **traits):
    """A Centroid from (z, value) pairs per column."""
    return clusters.Centroid(
        z={c: zv[0] for c, zv in traits.items()},
        value={c: zv[1] for c, zv in traits.items()},
        size=size,
    )


def test_labels_name_the_distinctive_traits(clusters) -> None:
    loyal = centroid(
        clusters,
        orders_lifetime=(1.5, 6.0),
        revenue_lifetime=(1.4, 600.0),
        days_since_last_order=(-1.0, 20.0),
        discount_share=(0.0, 0.02),
    )
    bargain = centroid(
        clusters,
        orders_lifetime=(0.6, 2.0),
        revenue_lifetime=(0.4, 90.0),
        days_since_last_order=(-0.5, 60.0),
        discount_share=(2.5, 0.18),
    )
    lapsed = centroid(
        clusters,
        orders_lifetime=(0.3, 1.8),
        revenue_lifetime=(0.2, 70.0),
        days_since_last_order=(0.4, 400.0),
        discount_share=(0.0, 0.02),
    )
    window = centroid(
        clusters,
        orders_lifetime=(-0.9, 0.0),
        revenue_lifetime=(-1.0, 0.0),
        product_views_90d=(1.8, 12.0),
        visits_90d=(1.5, 6.0),
        cart_adds_90d=(1.2, 2.0),
    )
    reader = centroid(
        clusters,
        orders_lifetime=(-0.9, 0.0),
        revenue_lifetime=(-1.0, 0.0),
        open_rate_90d=(2.0, 0.8),
        click_rate_90d=(1.0, 0.2),
    )
    dormant = centroid(
        clusters,
        orders_lifetime=(-0.9, 0.0),
        revenue_lifetime=(-1.0, 0.0),
        product_views_90d=(-0.5, 0.1),
        open_rate_90d=(-0.4, 0.0),
        tenure_days=(0.2, 400.0),
    )
    newcomer = centroid(
        clusters,
        orders_lifetime=(-0.9, 0.0),
        revenue_lifetime=(-1.0, 0.0),
        tenure_days=(-1.2, 12.0),
    )
    labels = clusters.cluster_labels([loyal, bargain, lapsed, window, reader, dormant, newcomer])
    assert labels == [
        "loyal big spenders",
        "bargain hunters",
        "lapsed buyers",
        "window shoppers",
        "newsletter readers",
        "dormant contacts",
        "new prospects",
    ]


def test_labels_are_unique_qualified_by_the_second_trait(clusters) -> None:
    def lapsed(z_recency, discount_z, revenue_z):
        return centroid(
            clusters,
            orders_lifetime=(0.2, 1.8),
            revenue_lifetime=(revenue_z, 70.0),
            avg_order_value=(revenue_z, 60.0),
            days_since_last_order=(z_recency, 400.0),
            discount_share=(discount_z, 0.1),
        )

    recent = centroid(
        clusters,
        orders_lifetime=(1.0, 4.0),
        revenue_lifetime=(1.0, 300.0),
        avg_order_value=(0.0, 70.0),
        days_since_last_order=(-1.0, 30.0),
        discount_share=(0.0, 0.02),
    )
    labels = clusters.cluster_labels(
        [recent, lapsed(0.8, 0.8, 0.0), lapsed(0.5, 0.0, 0.9), lapsed(0.6, 0.0, 0.0)]
    )
    assert labels[0] == "loyal big spenders"
    # Best lapsed fit first: its second archetype; the others: what sets them apart.
    assert labels[1] == "lapsed buyers (discount-driven)"
    assert labels[2] == "lapsed buyers (high-basket)"
    assert labels[3] == "lapsed buyers (smaller baskets)"

    # Indistinguishable centroids still get unique labels.
    same = [centroid(clusters, orders_lifetime=(0.0, 2.0))] * 3
    assert len(set(clusters.cluster_labels(same))) == 3


# --------------------------------------------------------------------------- profiles


def test_profile_says_purchases_then_distinctive_traits(clusters) -> None:
    order = [
        "orders_lifetime",
        "revenue_lifetime",
        "days_since_last_order",
        "product_views_90d",
        "open_rate_90d",
        "tenure_days",
    ]
    buyer = centroid(
        clusters,
        orders_lifetime=(1.0, 4.2),
        revenue_lifetime=(1.1, 310.4),
        days_since_last_order=(-1.0, 25.0),
        product_views_90d=(0.1, 3.0),
        open_rate_90d=(1.6, 0.48),
        tenure_days=(0.9, 500.0),
    )
    assert (
        clusters.cluster_profile(buyer, order, currency="EUR")
        == "4.2 orders, EUR 310 revenue, last order 25 days ago, opens 48% of e-mails (90 days),"
        " known for 500 days"
    )
    prospect = centroid(
        clusters,
        orders_lifetime=(-0.9, 0.0),
        revenue_lifetime=(-1.0, 0.0),
        days_since_last_order=(1.1, 730.0),
        product_views_90d=(2.0, 14.0),
        open_rate_90d=(-0.2, 0.05),
        tenure_days=(-1.0, 20.0),
    )
    assert clusters.cluster_profile(prospect, order, max_parts=3) == (
        "No orders, 14 product views in 90 days, known for 20 days"
    )


def test_describe_formats_each_kind_of_feature(clusters) -> None:
    assert clusters.describe("avg_order_value", 61.2, "GBP") == "GBP 61 per order"
    assert clusters.describe("discount_share", 0.125) == "12% of spend discounted"
    assert clusters.describe("days_since_last_visit", 3) == "last visit 3 days ago"
    assert clusters.describe("days_since_last_order", 730, cap_days=730) == ("no order in 730 days")
    assert clusters.describe("click_rate_30d", 0.051) == "clicks 5% of e-mails (30 days)"
    assert clusters.describe("cart_adds_7d", 1.25) == "1.2 cart adds in 7 days"
    assert clusters.describe("visits_90d", 0.01) == "no visits in 90 days"
    assert clusters.describe("revenue_365d", 1234.5) == "EUR 1,234 revenue in 365 days"


def test_too_few_people_give_no_clusters_not_a_failed_build(clusters) -> None:
    people, _ = blob_people(n_per_blob=1)
    one = people.head(2)
    with pytest.warns(UserWarning, match="too few"):
        got = run_blobs(clusters, pd.concat([one, one.assign(person_id=["x1", "x2"])]))
    assert got.empty
    assert list(got.columns) == clusters.OUTPUT_COLUMNS
    assert got["cluster_id"].dtype == "int64"
    assert got["cluster_label"].dtype == "string"
