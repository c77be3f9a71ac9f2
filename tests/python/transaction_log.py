"""A bare transaction log, as a retailer's till or order export gives it: customer id, date,
amount, quantity. Nothing else: no customer file, no e-mail, no order id.

Customers arrive over the whole period (more at the start: the shop existed
before the log begins), buy at their own rate (gamma-distributed across
people) and stop buying after a geometric number of purchases (a
buy-till-you-die world, like real retail logs).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

HEADER = ("customer_id", "order_date", "amount", "quantity")


def purchases(
    customers: int = 3000,
    start: dt.date = dt.date(2025, 1, 1),
    days: int = 365,
    seed: int = 11,
) -> list[tuple[int, dt.date, float, int]]:
    """The world's purchases as (customer index, day, amount, quantity), by customer."""
    rng = np.random.default_rng(seed)
    # a third were customers before the log started: they show up in its first weeks
    early = rng.random(customers) < 1 / 3
    arrival = np.where(early, rng.exponential(20, customers), rng.uniform(0, days, customers))
    rate = rng.gamma(shape=0.8, scale=1 / 40, size=customers)  # purchases per day
    lifetime_purchases = rng.geometric(0.25, customers)
    spend = rng.lognormal(mean=3.6, sigma=0.5, size=customers)  # a customer's typical basket
    out = []
    for i in range(customers):
        t = arrival[i]
        for _ in range(int(lifetime_purchases[i])):
            if t >= days:
                break
            day = start + dt.timedelta(days=int(t))
            amount = max(1.0, spend[i] * rng.lognormal(0, 0.3))
            out.append((i, day, amount, int(rng.integers(1, 6))))
            t += rng.exponential(1 / rate[i]) + 1
    return out


def write_transaction_log(
    path: Path,
    customers: int = 3000,
    start: dt.date = dt.date(2025, 1, 1),
    days: int = 365,
    seed: int = 11,
) -> dict[str, object]:
    """Write the log as CSV (dates as YYYYMMDD); returns its first and last date and row count."""
    rows = [
        (f"C{10000 + i}", day.strftime("%Y%m%d"), f"{amount:.2f}", quantity)
        for i, day, amount, quantity in purchases(customers, start, days, seed)
    ]
    rows.sort(key=lambda r: (r[1], r[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return {"first": rows[0][1], "last": rows[-1][1], "rows": len(rows)}
