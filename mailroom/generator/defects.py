"""Planted defects and at-least-once re-deliveries: the quarantine's test bed.

Every planted defect is written to `data/truth/planted_defects.parquet`
(source_table, record_id, defect) so tests can check that each one reaches
the quarantine with the matching reason.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

Mutator = Callable[[pd.DataFrame, np.ndarray, np.random.Generator], None]


def _touches(col: str) -> Callable[[Mutator], Mutator]:
    """Record which column a mutator changes, so only that column is touched."""

    def mark(f: Mutator) -> Mutator:
        f.column = col  # type: ignore[attr-defined]
        return f

    return mark


def _set(col: str, values: tuple[str, ...]) -> Mutator:
    @_touches(col)
    def f(df: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> None:
        df.loc[df.index[rows], col] = [
            values[int(i)] for i in rng.integers(0, len(values), len(rows))
        ]

    return f


def _negative(col: str) -> Mutator:
    @_touches(col)
    def f(df: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> None:
        df.loc[df.index[rows], col] = "-" + df[col].iloc[rows].astype(str)

    return f


@_touches("properties")
def _truncate_json(df: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> None:
    broken = []
    for v in df["properties"].iloc[rows]:
        v = v or "{}"
        broken.append(v[: max(1, len(v) - 3)] if len(v) > 2 else '{"product_id":')
    df.loc[df.index[rows], "properties"] = broken


@_touches("order_id")
def _orphan(df: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> None:
    df.loc[df.index[rows], "order_id"] = [
        f"#0{int(x)}" for x in rng.integers(10**6, 10**7, len(rows))
    ]


def defect_kinds(future_ts: str) -> dict[str, tuple[str, dict[str, Mutator]]]:
    """table -> (key column, defect code -> mutator)."""
    bad_ts = ("not-a-date", "2025-02-30T10:00:00Z", "31/13/2025 25:61", "epoch")
    return {
        "web_events": (
            "event_id",
            {
                "bad_timestamp": _set("event_at", bad_ts),
                "missing_timestamp": _set("event_at", ("",)),
                "future_timestamp": _set("event_at", (future_ts,)),
                "malformed_json": _truncate_json,
                "unknown_event_type": _set(
                    "event_type", ("pageview_legacy", "PRODUCT VIEWED", "heartbeat")
                ),
            },
        ),
        "esp_email_events": (
            "event_id",
            {
                "bad_timestamp": _set("event_at", bad_ts),
                "future_timestamp": _set("event_at", (future_ts,)),
                "unknown_event_type": _set("event_type", ("forwarded", "opened?", "deferred")),
            },
        ),
        "shop_orders": (
            "order_id",
            {
                "negative_amount": _negative("total_amount"),
                "absurd_amount": _set("total_amount", ("9999999.00", "123456789.99")),
                "bad_timestamp": _set("order_at", ("N/A", "0000-00-00 00:00:00", "tomorrow")),
                "unknown_currency": _set("currency", ("XYZ", "EURO", "$$")),
                "unknown_status": _set("status", ("lost_in_post", "pending_review")),
            },
        ),
        "shop_order_items": ("order_item_id", {"orphan_order_item": _orphan}),
    }


def plant(
    table: str,
    tbl: pa.Table,
    rng: np.random.Generator,
    rate: float,
    future_ts: str,
    log: list[tuple[str, str, str]],
) -> pa.Table:
    kinds = defect_kinds(future_ts)
    if table not in kinds or tbl.num_rows == 0 or rate <= 0:
        return tbl
    key, mutators = kinds[table]
    keys = tbl.column(key).to_numpy(zero_copy_only=False)
    # Only records that landed once, so a defect is never half-fixed by a later version.
    candidates = np.flatnonzero(~pd.Series(keys).duplicated(keep=False).to_numpy())
    k = min(len(candidates), max(len(mutators), int(rng.binomial(len(keys), rate))))
    if k == 0:
        return tbl
    rows = rng.choice(candidates, size=k, replace=False)
    columns = sorted({m.column for m in mutators.values()} | {key})
    df = tbl.select(columns).to_pandas()  # only the touched columns
    for j, (code, mutate) in enumerate(mutators.items()):
        sel = rows[j :: len(mutators)]
        if len(sel):
            mutate(df, sel, rng)
            log.extend((table, str(v), code) for v in df[key].iloc[sel])
    for col in columns:
        i = tbl.schema.get_field_index(col)
        tbl = tbl.set_column(i, col, pa.array(df[col].to_numpy(dtype=object), type=pa.string()))
    return tbl


def redeliver(
    tbl: pa.Table, rng: np.random.Generator, rate: float, defective: set[str], cutoff: pd.Timestamp
) -> pa.Table:
    """Deliver a share of events a second time (same event_id, received later, landed before `cutoff`)."""
    if tbl.num_rows == 0 or rate <= 0:
        return tbl
    ids = pd.Series(tbl.column("event_id").to_numpy(zero_copy_only=False))
    pick = np.flatnonzero(~ids.isin(defective).to_numpy() & (rng.random(len(ids)) < rate))
    if not len(pick):
        return tbl
    dup = tbl.take(pa.array(pick)).to_pandas()
    lag = pd.to_timedelta(rng.uniform(60, 7200, len(dup)).astype(int), unit="s")
    received = pd.to_datetime(dup["received_at"], utc=True, errors="coerce") + lag
    dup["received_at"] = received.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()
    dup["_loaded_at"] = dup["_loaded_at"] + lag
    dup = dup[
        (received < cutoff.tz_localize("UTC")).to_numpy() & (dup["_loaded_at"] < cutoff).to_numpy()
    ]
    return pa.concat_tables(
        [tbl, pa.Table.from_pandas(dup, schema=tbl.schema, preserve_index=False)]
    )
