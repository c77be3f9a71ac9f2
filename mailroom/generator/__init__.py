"""The sample world: a simulated retailer written into the `raw` schema, truth on the side.

`generate_world(WorldConfig(...))` simulates people in chunks and streams each
chunk into DuckDB, so memory is bounded by `chunk_size`. The same config and
seed always give the same world.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mailroom.contract import RAW_SCHEMA, load_contract
from mailroom.generator import defects as D
from mailroom.generator import text as T
from mailroom.generator.simulate import ChunkSimulator, Counters
from mailroom.generator.world import WorldConfig, build_campaigns, build_catalogue, make_people
from mailroom.warehouse import (
    METADATA_TABLE,
    connect,
    ensure_raw_schema,
    read_metadata,
    table_counts,
)

__all__ = ["GenerateStats", "WorldConfig", "generate_world", "read_world_metadata"]

WORLD_TABLE = METADATA_TABLE


@dataclass
class GenerateStats:
    raw_counts: dict[str, int]
    seconds: float
    defects: int


class _TruthWriter:
    def __init__(self, path: Path, schema: pa.Schema | None = None) -> None:
        self.path, self.writer, self.schema = path, None, schema

    def write(self, df: pd.DataFrame) -> None:
        tbl = pa.Table.from_pandas(df, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema or tbl.schema)
        self.writer.write_table(tbl.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is None and self.schema is not None:  # nothing written: an empty file
            self.writer = pq.ParquetWriter(self.path, self.schema)
        if self.writer is not None:
            self.writer.close()


# data/truth/campaign_orders.parquet: every order a campaign e-mail brought.
CAMPAIGN_ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("true_person_id", pa.string()),
        ("campaign_id", pa.string()),
        ("variant", pa.string()),
        ("trigger", pa.string()),
        ("triggered_at", pa.timestamp("ns")),
        ("ordered_at", pa.timestamp("ns")),
        ("status", pa.string()),
        ("is_registered", pa.bool_()),
        ("is_visible", pa.bool_()),
        ("total_amount_eur", pa.float64()),
    ]
)


def _insert(con, table: str, tbl: pa.Table | pd.DataFrame | None) -> None:
    if tbl is None or len(tbl) == 0:
        return
    con.register("_chunk", tbl)
    try:
        con.execute(f'insert into {RAW_SCHEMA}."{table}" by name select * from _chunk')
    finally:
        con.unregister("_chunk")


def generate_world(
    cfg: WorldConfig,
    warehouse: Path | None = None,
    truth_dir: Path = Path("data/truth"),
    progress: bool = False,
) -> GenerateStats:
    """Replace the raw schema of `warehouse` with a fresh simulated world."""
    t0 = time.perf_counter()
    truth_dir.mkdir(parents=True, exist_ok=True)
    contract = load_contract()
    rng0 = np.random.default_rng([cfg.seed, 0])
    catalogue = build_catalogue(rng0)
    campaigns = build_campaigns(cfg, rng0)
    counters = Counters()
    future_ts = str(np.datetime64(cfg.as_of, "D") + np.timedelta64(400, "D")) + "T12:00:00Z"
    writers = {
        name: _TruthWriter(truth_dir / f"{name}.parquet")
        for name in ("source_records", "people", "planted_defects")
    }
    writers["campaign_orders"] = _TruthWriter(
        truth_dir / "campaign_orders.parquet", CAMPAIGN_ORDERS_SCHEMA
    )
    n_chunks = -(-cfg.people // cfg.chunk_size)
    as_of_end = pd.Timestamp(cfg.as_of) + pd.Timedelta(days=1)
    n_defects = 0
    effect_sums: list[pd.DataFrame] = []
    with connect(warehouse) as con:
        con.execute("set memory_limit = '2GB'")  # bounds the peak at any world size
        con.execute(f"drop schema if exists {RAW_SCHEMA} cascade")
        # What an ESP was sent about an earlier sample world says nothing about this one.
        con.execute("drop schema if exists sync_state cascade")
        ensure_raw_schema(con)
        _insert(con, "shop_products", _products_table(cfg, catalogue))
        _insert(con, "esp_campaigns", _campaigns_table(cfg, campaigns))
        chunks = range(n_chunks)
        if progress:
            from rich.progress import track

            chunks = track(chunks, description=f"Simulating {cfg.people:,} people", transient=True)
        for chunk in chunks:
            rng = np.random.default_rng([cfg.seed, 1, chunk])
            start = chunk * cfg.chunk_size
            n = min(cfg.chunk_size, cfg.people - start)
            people = make_people(
                cfg, rng, start, n, len(catalogue.categories), len(catalogue.brands)
            )
            sim = ChunkSimulator(cfg, rng, people, catalogue, campaigns, counters)
            sim.simulate_orders()
            sim.simulate_accounts()
            sim.simulate_esp()
            tables: dict[str, pa.Table | None] = {"crm_contacts": sim.crm_table()}
            tables.update(sim.shop_tables())
            tables.update(sim.esp_tables())
            tables["web_events"] = sim.web_table()
            tables.update(sim.privacy_tables())
            for name, tbl in tables.items():
                if tbl is None:
                    continue
                tbl = D.plant(name, tbl, rng, cfg.defect_rate, future_ts, sim.defects)
                if name in ("web_events", "esp_email_events"):
                    bad = {r for t, r, _ in sim.defects if t == name}
                    tbl = D.redeliver(tbl, rng, cfg.duplicate_rate, bad, as_of_end)
                missing = set(tbl.column_names) - set(contract[name].column_names)
                if missing:
                    raise RuntimeError(
                        f"generator wrote columns outside the contract for {name}: {missing}"
                    )
                _insert(con, name, tbl)
            writers["source_records"].write(
                pd.DataFrame(
                    sim.records, columns=["source_table", "source_record_id", "true_person_id"]
                )
            )
            writers["people"].write(sim.truth_people())
            effect_sums.append(sim.campaign_effect_sums())
            writers["campaign_orders"].write(sim.induced_orders_truth())
            writers["planted_defects"].write(
                pd.DataFrame(sim.defects, columns=["source_table", "record_id", "defect"])
            )
            n_defects += len(sim.defects)
        for w in writers.values():
            w.close()
        meta = {k: str(v) for k, v in asdict(cfg).items()}
        con.execute(
            f"create or replace table {RAW_SCHEMA}.{WORLD_TABLE} (key varchar, value varchar)"
        )
        con.executemany(f"insert into {RAW_SCHEMA}.{WORLD_TABLE} values (?, ?)", list(meta.items()))
        counts = {k: v for k, v in table_counts(con, RAW_SCHEMA).items() if k != WORLD_TABLE}
    _campaign_effects(cfg, campaigns, effect_sums).to_parquet(
        truth_dir / "campaign_effects.parquet", index=False
    )
    (truth_dir / "world.json").write_text(json.dumps(meta, indent=2))
    return GenerateStats(raw_counts=counts, seconds=time.perf_counter() - t0, defects=n_defects)


def read_world_metadata(con) -> dict[str, str]:
    """The generator's config if the raw schema holds a sample world, else {}."""
    return read_metadata(con)


def _campaign_effects(cfg: WorldConfig, campaigns, sums: list[pd.DataFrame]) -> pd.DataFrame:
    """The truth of every campaign's effect: one row per campaign and treated variant.

    `true_incremental_conversion_probability` is what a holdout comparison of
    conversion within the window estimates (treated minus control conversion
    rate); `induced_revenue_per_recipient` what the revenue-per-recipient
    difference estimates.
    """
    cols = [
        "recipients",
        "expected_incremental_conversions",
        "realized_incremental_conversions",
        "induced_orders",
        "induced_orders_in_window",
        "induced_revenue_in_window",
    ]
    total = (
        pd.concat(sums, ignore_index=True)
        .groupby(["campaign", "variant"], as_index=False)[cols]
        .sum()
    )
    treated = total[total["variant"] != "holdout"].copy()
    holdout = total.loc[total["variant"] == "holdout", ["campaign", "recipients"]].rename(
        columns={"recipients": "holdout_recipients"}
    )
    out = treated.merge(holdout, on="campaign", how="left").fillna({"holdout_recipients": 0})
    out = out[out["recipients"] > 0].sort_values(["campaign", "variant"])
    for col in (
        "recipients",
        "holdout_recipients",
        "realized_incremental_conversions",
        "induced_orders",
        "induced_orders_in_window",
    ):
        out[col] = out[col].astype("int64")
    meta = pd.DataFrame(
        {
            "campaign": range(len(campaigns)),
            "campaign_id": [c.campaign_id for c in campaigns],
            "campaign_name": [c.name for c in campaigns],
            "campaign_type": [c.kind for c in campaigns],
            "holdout_share": [c.holdout_share for c in campaigns],
        }
    )
    out = meta.merge(out, on="campaign")
    out["attribution_window_days"] = cfg.campaign_truth_window_days
    out["true_incremental_conversion_probability"] = (
        out["expected_incremental_conversions"] / out["recipients"]
    )
    out["realized_incremental_conversion_rate"] = (
        out["realized_incremental_conversions"] / out["recipients"]
    )
    out["induced_revenue_in_window"] = out["induced_revenue_in_window"].round(2)
    out["induced_revenue_per_recipient"] = out["induced_revenue_in_window"] / out["recipients"]
    return out[
        [
            "campaign_id",
            "campaign_name",
            "campaign_type",
            "variant",
            "recipients",
            "holdout_recipients",
            "holdout_share",
            "attribution_window_days",
            "true_incremental_conversion_probability",
            "expected_incremental_conversions",
            "realized_incremental_conversions",
            "realized_incremental_conversion_rate",
            "induced_orders",
            "induced_orders_in_window",
            "induced_revenue_in_window",
            "induced_revenue_per_recipient",
        ]
    ].reset_index(drop=True)


def _products_table(cfg: WorldConfig, cat) -> pa.Table:
    n = len(cat.product_id)
    created = cfg.start - np.timedelta64(30, "D")
    return pa.table(
        {
            "product_id": pa.array(cat.product_id, type=pa.string()),
            "product_name": pa.array(cat.name, type=pa.string()),
            "category": pa.array(
                np.array(cat.categories, dtype=object)[cat.category], type=pa.string()
            ),
            "brand": pa.array(np.array(cat.brands, dtype=object)[cat.brand], type=pa.string()),
            "price": pa.array(np.char.mod("%.2f", cat.price_eur), type=pa.string()),
            "currency": pa.array(["EUR"] * n, type=pa.string()),
            "is_consumable": pa.array(np.where(cat.consumable, "true", "false"), type=pa.string()),
            "created_at": T.naive_utc(pa.array(np.full(n, created))),
            "_loaded_at": pa.array(np.full(n, created)),
        }
    )


def _campaigns_table(cfg: WorldConfig, campaigns) -> pa.Table:
    days = np.array([max(c.day, 0.0) for c in campaigns])
    return pa.table(
        {
            "campaign_id": pa.array([c.campaign_id for c in campaigns], type=pa.string()),
            "campaign_name": pa.array([c.name for c in campaigns], type=pa.string()),
            "campaign_type": pa.array([c.kind for c in campaigns], type=pa.string()),
            "subject_line": pa.array([c.subject for c in campaigns], type=pa.string()),
            "sent_at": T.iso_utc(T.to_datetime(cfg.start, days)),
            # the sample world's campaigns precede the warehouse's audiences
            "audience_id": pa.nulls(len(campaigns), type=pa.string()),
            "_loaded_at": T.to_datetime(cfg.start, days + 0.1),
        }
    )
