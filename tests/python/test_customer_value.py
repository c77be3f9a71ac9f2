"""Customer value (fct_customer_value, mailroom.pymodels.btyd): the pure functions, no dbt run.

Purchase histories are simulated from each model with known parameters: the
fit must recover them and the conditional expectations must predict the
simulated next year. Seeds are fixed, so the tolerances are not flaky.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import load_model_module

from mailroom.pymodels import btyd

HORIZON = 365.0


@pytest.fixture(scope="module")
def cv():
    return load_model_module("python_models/marts/propensity/fct_customer_value.py")


@pytest.fixture(autouse=True)
def quiet_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --------------------------------------------------------------------------- simulations


def simulate_pareto(n: int, r: float, alpha: float, s: float, beta: float, seed: int = 7):
    """(x, t_x, T, orders in the next HORIZON days) of a Pareto/NBD population."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    T = rng.uniform(30, 730, n)
    death = rng.exponential(1.0 / mu)
    x = rng.poisson(lam * np.minimum(death, T))
    # the last of x uniform times in (0, min(death, T)]
    t_x = np.where(x > 0, np.minimum(death, T) * rng.random(n) ** (1.0 / np.maximum(x, 1)), 0.0)
    future = rng.poisson(lam * np.clip(death - T, 0.0, HORIZON))
    return x.astype(float), t_x, T, future


def simulate_bg(
    n: int, r: float, alpha: float, a: float, b: float, birth_coin: bool, seed: int = 11
):
    """(x, t_x, T, orders in the next HORIZON days) of a BG/NBD (or MBG/NBD) population."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    T = rng.uniform(30, 730, n)
    alive = ~(rng.random(n) < p) if birth_coin else np.ones(n, dtype=bool)
    clock, x, t_x, future = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1.0 / lam[idx])
        seen = clock[idx] < T[idx]
        x[idx[seen]] += 1
        t_x[idx[seen]] = clock[idx[seen]]
        ahead = ~seen & (clock[idx] < T[idx] + HORIZON)
        future[idx[ahead]] += 1
        done = clock[idx] >= T[idx] + HORIZON
        alive[idx[done]] = False
        ordered = idx[~done]
        alive[ordered[rng.random(len(ordered)) < p[ordered]]] = False
    return x, t_x, T, future


# --------------------------------------------------------------------------- purchase models


@pytest.mark.parametrize(
    ("model", "truth"),
    [
        ("pareto_nbd", {"r": 0.8, "alpha": 90.0, "s": 1.5, "beta": 500.0}),
        ("bg_nbd", {"r": 0.6, "alpha": 60.0, "a": 1.5, "b": 6.0}),
        ("mbg_nbd", {"r": 0.6, "alpha": 60.0, "a": 1.5, "b": 6.0}),
    ],
)
def test_fit_recovers_parameters_and_predicts_next_year(model, truth) -> None:
    if model == "pareto_nbd":
        x, t_x, T, future = simulate_pareto(8000, *truth.values())
    else:
        x, t_x, T, future = simulate_bg(8000, *truth.values(), birth_coin=model == "mbg_nbd")
    fit = btyd.fit_purchases(model, x, t_x, T)
    assert fit.converged
    for name, value in truth.items():
        # the shape and scale pairs trade off; each within 35%, their ratio closer
        assert fit.params[name] == pytest.approx(value, rel=0.35), name
    assert fit.params["r"] / fit.params["alpha"] == pytest.approx(
        truth["r"] / truth["alpha"], rel=0.1
    )
    predicted = btyd.expected_orders(model, fit.values(), HORIZON, x, t_x, T)
    assert predicted.sum() == pytest.approx(future.sum(), rel=0.06)
    # calibrated by group, not only in total: people with and without repeat orders
    for group in (x == 0, x > 0):
        assert predicted[group].sum() == pytest.approx(future[group].sum(), rel=0.12)
    alive = btyd.probability_alive(model, fit.values(), x, t_x, T)
    assert ((alive >= 0) & (alive <= 1)).all()


def test_a_population_is_fitted_once_per_process(monkeypatch) -> None:
    x, t_x, T, _ = simulate_pareto(500, 0.8, 90.0, 1.5, 500.0)
    evaluations = []
    likelihood = btyd.log_likelihood
    monkeypatch.setattr(btyd, "log_likelihood", lambda *a: evaluations.append(1) or likelihood(*a))
    first = btyd.fit_purchases("pareto_nbd", x, t_x, T)
    assert evaluations
    evaluations.clear()
    # the same histories in another order: the same pooled population, no new fit
    order = np.random.default_rng(3).permutation(len(x))
    again = btyd.fit_purchases("pareto_nbd", x[order], t_x[order], T[order])
    assert not evaluations and again == first
    again.params["r"] = -1.0  # a caller's change never reaches the kept fit
    assert btyd.fit_purchases("pareto_nbd", x, t_x, T) == first
    # another population or model is fitted
    btyd.fit_purchases("pareto_nbd", x[:-1], t_x[:-1], T[:-1])
    btyd.fit_purchases("bg_nbd", x, t_x, T)
    assert evaluations


def test_bg_nbd_nobody_without_repeat_orders_is_dead() -> None:
    # the BG/NBD's known blind spot, and why the Pareto/NBD is the default
    params = (0.5, 60.0, 1.2, 5.0)
    alive = btyd.probability_alive("bg_nbd", params, [0, 0, 3], [0, 0, 10], [10, 700, 700])
    assert alive[:2].tolist() == [1.0, 1.0]
    assert alive[2] < 0.5
    pareto = btyd.probability_alive(
        "pareto_nbd", (0.5, 60.0, 1.2, 400.0), [0, 0], [0, 0], [10, 700]
    )
    assert pareto[1] < pareto[0] < 1


def test_population_orders_and_alive_match_a_newborn_simulation() -> None:
    truth = (0.8, 90.0, 1.5, 500.0)
    rng = np.random.default_rng(3)
    n, age = 200_000, 20.0
    lam = rng.gamma(truth[0], 1 / truth[1], n)
    death = rng.exponential(1 / rng.gamma(truth[2], 1 / truth[3], n))
    future = rng.poisson(lam * np.clip(np.minimum(death, age + HORIZON) - age, 0, None))
    expected = btyd.population_orders("pareto_nbd", truth, np.array([age]), HORIZON)[0]
    assert expected == pytest.approx(future.mean(), rel=0.03)
    alive = btyd.population_alive("pareto_nbd", truth, np.array([age]))[0]
    assert alive == pytest.approx((death > age).mean(), abs=0.005)
    bg = (0.6, 60.0, 1.5, 6.0)
    _, _, T, future = simulate_bg(20_000, *bg, birth_coin=False)
    # E[X(t)] from the closed form against the simulated count up to T + HORIZON
    total = btyd.population_orders("bg_nbd", bg, T, HORIZON).sum()
    assert total == pytest.approx(future.sum(), rel=0.06)


def test_pareto_likelihood_is_stable_for_long_histories() -> None:
    params = (0.5, 80.0, 0.9, 450.0)
    for swap in (False, True):  # alpha >= beta and alpha < beta take different branches
        p = (params[0], params[3], params[2], params[1]) if swap else params
        ll = btyd.log_likelihood(
            "pareto_nbd", p, [0, 1, 40, 300], [0, 5, 600, 720], [1, 700, 700, 730]
        )
        assert np.isfinite(ll).all()


def test_probability_order_within_matches_monte_carlo() -> None:
    params = (0.5, 80.0, 0.9, 450.0)
    x, t_x, T = (
        np.array([0.0, 3.0, 8.0]),
        np.array([0.0, 200.0, 690.0]),
        np.array([300.0] * 2 + [700.0]),
    )
    got = btyd.probability_order_within("pareto_nbd", params, 60.0, x, t_x, T)
    rng = np.random.default_rng(5)
    alive = btyd.probability_alive("pareto_nbd", params, x, t_x, T)
    for i in range(3):
        lam = rng.gamma(params[0] + x[i], 1 / (params[1] + T[i]), 400_000)
        mu = rng.gamma(params[2], 1 / (params[3] + T[i]), 400_000)
        within = lam / (lam + mu) * -np.expm1(-(lam + mu) * 60.0)
        assert got[i] == pytest.approx(alive[i] * within.mean(), rel=0.01)
    days = btyd.median_next_order_days("pareto_nbd", params, HORIZON, x, t_x, T)
    assert np.isnan(days[0])  # little chance of any order: no date
    at_median = btyd.probability_order_within("pareto_nbd", params, days[2:], x[2:], t_x[2:], T[2:])
    assert at_median[0] == pytest.approx(0.5, abs=1e-4)


# --------------------------------------------------------------------------- spend


def test_gamma_gamma_recovers_parameters() -> None:
    p, q, v = 4.0, 5.0, 60.0
    rng = np.random.default_rng(9)
    n_people = 6000
    nu = rng.gamma(q, 1.0 / v, n_people)
    orders = rng.integers(1, 8, n_people)
    values = [rng.gamma(p, 1.0 / nu[i], orders[i]).mean() for i in range(n_people)]
    fit = btyd.fit_spend(orders, values)
    assert fit.converged
    assert fit.params["p"] == pytest.approx(p, rel=0.1)
    assert fit.params["p"] * fit.params["v"] / (fit.params["q"] - 1) == pytest.approx(
        p * v / (q - 1), rel=0.05
    )
    expected = btyd.expected_order_value(
        fit.values(), np.array([0, 1, 20]), np.array([np.nan, 500.0, 500.0])
    )
    population = p * v / (q - 1)
    assert expected[0] == pytest.approx(population, rel=0.05)
    assert population < expected[1] < expected[2] < 500.0  # shrinkage fades with more orders


# --------------------------------------------------------------------------- the model's rules


def people_frame(seed: int = 1, n: int = 3000) -> pd.DataFrame:
    """A small int_customers__features-like frame from a Pareto/NBD world with birth orders."""
    rng = np.random.default_rng(seed)
    as_of_at = pd.Timestamp("2026-10-01")
    age = np.concatenate([[2.5, 3.0, 3.0, 400.0], rng.uniform(1, 730, n - 4)])
    lam = rng.gamma(0.8, 1 / 90.0, n)
    life = rng.exponential(1 / rng.gamma(1.5, 1 / 500.0, n))
    birth_order = rng.random(n) < 0.45
    rows = []
    for i in range(n):
        seen = as_of_at - pd.Timedelta(days=float(age[i]))
        k = rng.poisson(lam[i] * min(life[i], age[i]))
        times = np.sort(rng.uniform(0, min(life[i], age[i]), k))
        if birth_order[i]:
            times = np.concatenate([[0.01], times])
        if i == 1:
            times = np.array([0.01, 0.5, 1.5])  # a birth order and two more in three days
        if i == 2:
            times = np.array([])
        stamps = [seen + pd.Timedelta(days=float(t)) for t in times]
        rows.append(
            {
                "person_id": f"p{i:05d}",
                "as_of_date": pd.Timestamp("2026-09-30").date(),
                "as_of_at": as_of_at,
                "first_seen_at": seen,
                "first_order_at": stamps[0] if stamps else pd.NaT,
                "last_order_at": stamps[-1] if stamps else pd.NaT,
                "tenure_days": int(np.floor(age[i])),
                "orders_lifetime": len(stamps),
                "avg_order_value": float(rng.gamma(4, 20)) if stamps else np.nan,
            }
        )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed)  # any input order


def test_recency_frequency_does_not_count_the_birth_order() -> None:
    seen = pd.Timestamp("2026-01-01")
    frame = pd.DataFrame(
        {
            "as_of_at": [seen + pd.Timedelta(days=100)] * 3,
            "first_seen_at": [seen] * 3,
            "first_order_at": [seen + pd.Timedelta(hours=1), seen + pd.Timedelta(days=10), pd.NaT],
            "last_order_at": [seen + pd.Timedelta(days=50), seen + pd.Timedelta(days=60), pd.NaT],
            "orders_lifetime": [3, 2, 0],
            "avg_order_value": [30.0, 40.0, None],
        }
    )
    rf = btyd.recency_frequency(frame, birth_window_hours=24)
    assert rf["x"].tolist() == [2.0, 2.0, 0.0]  # birth order left out; a later first order counts
    assert rf["t_x"].tolist() == [50.0, 60.0, 0.0]
    assert rf["T"].tolist() == [100.0] * 3
    assert rf["orders"].tolist() == [3.0, 2.0, 0.0]


def test_insufficient_history_gets_population_figures_and_the_flag(cv) -> None:
    people = people_frame()
    out = cv.value_customers(people, min_history_days=30, valued_at=pd.Timestamp("2026-10-01"))
    assert list(out.columns) == cv.OUTPUT_COLUMNS
    assert len(out) == len(people) and out["person_id"].is_monotonic_increasing
    flagged = out[out["has_insufficient_history"]]
    assert (people["tenure_days"] < 30).sum() == len(flagged) > 0
    assert flagged["insufficient_history_reason"].str.contains("fewer than 30 days").all()
    assert flagged["expected_next_order_date"].isna().all()
    assert out.loc[~out["has_insufficient_history"], "insufficient_history_reason"].isna().all()
    # p00001 (three orders in three days) and p00002 (none) are both 3 days old:
    # the same population figures, not an extrapolation of the three orders
    two = out.set_index("person_id").loc[["p00001", "p00002"]]
    assert two["expected_orders"].nunique() == 1 and two["expected_order_value"].nunique() == 1
    own = cv.value_customers(people, min_history_days=0).set_index("person_id")
    assert own.loc["p00001", "expected_orders"] > 2 * two["expected_orders"].iloc[0]
    # "own" keeps the flag but the person's own posterior
    kept = cv.value_customers(people, min_history_days=30, short_history_figures="own")
    assert kept["has_insufficient_history"].sum() == len(flagged)
    assert kept.set_index("person_id").loc["p00001", "expected_orders"] == pytest.approx(
        own.loc["p00001", "expected_orders"]
    )
    # everyone counts in the totals, and the figures hang together
    assert out["expected_orders"].notna().all() and (out["expected_orders"] >= 0).all()
    assert np.allclose(
        out["expected_revenue"], out["expected_orders"] * out["expected_order_value"]
    )
    dated = out.dropna(subset=["expected_next_order_date"])
    assert len(dated) > 0
    assert (pd.to_datetime(dated["expected_next_order_date"]) > pd.Timestamp("2026-09-30")).all()
    params = json.loads(out["model_parameters"].iloc[0])
    assert {"r", "alpha", "s", "beta", "p", "q", "v"} <= set(params)
    assert params["purchase_fit"]["people"] == len(people)


def test_deterministic_in_any_input_order(cv) -> None:
    people = people_frame(seed=2, n=1500)
    stamp = pd.Timestamp("2026-10-01")
    first = cv.value_customers(people, valued_at=stamp)
    second = cv.value_customers(people.sample(frac=1.0, random_state=9), valued_at=stamp)
    pd.testing.assert_frame_equal(first, second)


def test_a_fit_sample_is_deterministic_and_values_everyone(cv) -> None:
    people = people_frame(seed=3, n=3000)
    stamp = pd.Timestamp("2026-10-01")
    sampled = cv.value_customers(people, fit_max_people=1000, valued_at=stamp)
    shuffled = people.sample(frac=1.0, random_state=4)
    again = cv.value_customers(shuffled, fit_max_people=1000, valued_at=stamp)
    pd.testing.assert_frame_equal(sampled, again)
    assert len(sampled) == len(people) and sampled["expected_orders"].notna().all()
    fit = json.loads(sampled["model_parameters"].iloc[0])["purchase_fit"]
    assert fit["people"] == 1000
    # the same people whatever the order, and everyone when there are few enough
    chosen = people["person_id"][btyd.fit_sample(people["person_id"], 1000)]
    rechosen = shuffled["person_id"][btyd.fit_sample(shuffled["person_id"], 1000)]
    assert set(chosen) == set(rechosen) and len(chosen) == 1000
    assert btyd.fit_sample(people["person_id"], 5000).all()
    # a sample of a third fits close to the whole: totals within a few per cent
    whole = cv.value_customers(people, valued_at=stamp)
    ratio = sampled["expected_orders"].sum() / whole["expected_orders"].sum()
    assert 0.9 < ratio < 1.1, ratio
    assert not sampled["expected_orders"].equals(whole["expected_orders"])


def test_unknown_settings_and_empty_input(cv) -> None:
    people = people_frame(n=50)
    with pytest.raises(ValueError, match="unknown"):
        cv.value_customers(people, purchase_model="lifetimes")
    with pytest.raises(ValueError, match="population or own"):
        cv.value_customers(people, short_history_figures="guess")
    with pytest.raises(ValueError, match="lacks"):
        cv.value_customers(people.drop(columns=["first_seen_at"]))
    empty = cv.value_customers(people.iloc[:0])
    assert empty.empty and list(empty.columns) == cv.OUTPUT_COLUMNS


def test_the_horizons_are_vars_and_the_purchase_horizon_matches_its_own_run(cv) -> None:
    people = people_frame(seed=4, n=1500)
    stamp = pd.Timestamp("2026-10-01")
    out = cv.value_customers(people, horizon_days=365, purchase_horizon_days=90, valued_at=stamp)
    assert set(out["value_horizon_days"]) == {365} and set(out["purchase_horizon_days"]) == {90}
    # the purchase-horizon figure is the value figure of a 90-day run, person by person
    ninety = cv.value_customers(people, horizon_days=90, valued_at=stamp)
    assert np.allclose(out["expected_orders_purchase_horizon"], ninety["expected_orders"])
    assert (out["expected_orders_purchase_horizon"] <= out["expected_orders"] + 1e-12).all()
    assert out["expected_orders_purchase_horizon"].sum() < out["expected_orders"].sum()
    assert json.loads(out["model_parameters"].iloc[0])["purchase_horizon_days"] == 90
