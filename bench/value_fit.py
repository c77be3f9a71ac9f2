"""What fitting customer value on a sample, and pooling histories to the hour, cost in accuracy.

A Pareto/NBD population of 1,000,000 people is simulated (fixed seed); the
purchase model of fct_customer_value (mailroom.pymodels.btyd) is fitted on
everyone and on the 200,000-person hash sample, with histories pooled to the
hour and (nearly) exactly, and each fit predicts everyone's next-year orders.

    .venv/bin/python bench/value_fit.py          # about 5 minutes on 2 cores
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from mailroom.pymodels import btyd

PEOPLE, SAMPLE = 1_000_000, 200_000


def simulate(n: int, seed: int = 1):
    """(x, t_x, T) of a Pareto/NBD population known for 1 to 730 days."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.8, 1 / 90, n)
    mu = rng.gamma(1.5, 1 / 500, n)
    T = rng.uniform(1, 730, n)
    death = rng.exponential(1 / mu)
    x = rng.poisson(lam * np.minimum(death, T)).astype(float)
    t_x = np.where(x > 0, np.minimum(death, T) * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    return x, t_x, T


def main() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)
    x, t_x, T = simulate(PEOPLE)
    ids = pd.Series([f"p{i:07d}" for i in range(PEOPLE)])
    sample = btyd.fit_sample(ids, SAMPLE)
    runs = {}
    for who, chosen in (("everyone", np.ones(PEOPLE, dtype=bool)), ("sample", sample)):
        for pooling, resolution in (("hour", btyd.FIT_RESOLUTION_DAYS), ("exact", 1e-6)):
            t0 = time.perf_counter()
            fit = btyd.fit_purchases(
                "pareto_nbd", x[chosen], t_x[chosen], T[chosen], resolution_days=resolution
            )
            seconds = time.perf_counter() - t0
            total = btyd.expected_orders("pareto_nbd", fit.values(), 365, x, t_x, T).sum()
            runs[(who, pooling)] = total
            print(
                f"{who:8s} ({int(chosen.sum()):>9,} people) pooled {pooling:5s}: "
                f"fit {seconds:6.1f} s, {fit.iterations:3d} iterations, "
                f"next-year orders {total:12,.0f}"
            )
    base = runs[("everyone", "exact")]
    for key, total in runs.items():
        print(f"{key[0]:8s} {key[1]:5s}: {total / base - 1:+.3%} against everyone, exact")


if __name__ == "__main__":
    main()
