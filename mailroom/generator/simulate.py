"""One chunk of people -> every raw table, the planted defects and the truth.

All times are float days since the world's start; `H` (the as-of day) is the
end of observable history. Only what happened, and was landed by a loader,
before `H` is written to the raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mailroom.generator import names as N
from mailroom.generator import text as T
from mailroom.generator.world import (
    CANCEL_RATE,
    COMPLETED_RATE,
    REFUND_RATE,
    TRUTH_HORIZON_DAYS,
    Campaign,
    Catalogue,
    People,
    WorldConfig,
)


@dataclass
class Counters:
    """Running id counters, carried across chunks so ids are unique world-wide."""

    order: int = 0
    item: int = 0
    customer: int = 0
    contact: int = 0
    subscriber: int = 0
    email_event: int = 0
    consent: int = 0
    erasure: int = 0


# What an e-mail's extra order followed: its delivery, a human open or a click.
TRIGGER_KINDS = ("none", "delivered", "opened", "clicked")


def _take(n: int, counter_value: int, rng: np.random.Generator) -> np.ndarray:
    """n fresh sequence numbers, shuffled so ids do not follow person order."""
    return counter_value + rng.permutation(n)


def _hex_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random 32-hex-digit ids (like a uuid without dashes)."""
    hexed = rng.bytes(16 * n).hex().encode()
    return np.frombuffer(hexed, dtype="S32").astype(str).astype(object)


def _fmt_money(x: np.ndarray) -> np.ndarray:
    return np.char.mod("%.2f", np.round(np.asarray(x, dtype="float64"), 2))


def _json_obj(**parts: pa.Array | str) -> pa.Array:
    pieces: list[object] = ["{"]
    for i, (k, v) in enumerate(parts.items()):
        pieces += [("," if i else "") + f'"{k}":"', v, '"']
    pieces.append("}")
    return T.concat(*pieces)


class ChunkSimulator:
    def __init__(
        self,
        cfg: WorldConfig,
        rng: np.random.Generator,
        people: People,
        catalogue: Catalogue,
        campaigns: list[Campaign],
        counters: Counters,
    ) -> None:
        self.cfg, self.rng, self.p, self.cat, self.campaigns, self.c = (
            cfg,
            rng,
            people,
            catalogue,
            campaigns,
            counters,
        )
        self.n = len(people.gidx)
        self.H = cfg.as_of_day
        self.start = cfg.start
        self.defects: list[tuple[str, str, str]] = []
        self.records: list[tuple[str, str, str]] = []

    # ------------------------------------------------------------------ helpers
    def ts(self, days: np.ndarray) -> pa.Array:
        return T.to_datetime(self.start, days)

    def loaded_at(self, days: np.ndarray, max_lag: float = 0.5) -> pa.Array:
        lag = self.rng.uniform(0.001, max_lag, len(days))
        return self.ts(np.minimum(np.asarray(days) + lag, self.H - 1e-5))

    def pick_products(self, owner: np.ndarray, fav_share: float = 0.3) -> np.ndarray:
        """Products for events/items owned by `owner`, by category taste, brand and price sensitivity."""
        rng, p, cat = self.rng, self.p, self.cat
        u = rng.random(len(owner))
        cat_idx = (u[:, None] > p.cat_cum[owner]).sum(axis=1)
        cat_idx = np.minimum(cat_idx, len(cat.categories) - 1)
        out = np.empty(len(owner), dtype=np.int64)
        skew = rng.random(len(owner)) ** (1.0 + 2.5 * p.price_sens[owner])
        for ci in np.unique(cat_idx):
            m = cat_idx == ci
            rows = cat.by_category[ci]
            out[m] = rows[np.minimum((skew[m] * len(rows)).astype(int), len(rows) - 1)]
        fav = rng.random(len(owner)) < fav_share
        for bi in np.unique(p.fav_brand[owner[fav]]):
            m = fav & (p.fav_brand[owner] == bi)
            rows = cat.by_brand[bi]
            out[m] = rows[rng.integers(0, len(rows), m.sum())]
        return out

    # ------------------------------------------------------------------ orders
    def simulate_orders(self) -> None:
        rng, p, H, n = self.rng, self.p, self.H, self.n
        first_buy = rng.random(n) < 0.45
        pre_end = np.minimum(p.alive_end, H)
        dur = np.clip(pre_end - p.join, 0, None)
        n_pre = rng.poisson(p.lam * dur)
        post_dur = np.clip(np.minimum(p.alive_end, H + TRUTH_HORIZON_DAYS) - H, 0, None)
        n_post = rng.poisson(p.lam * post_dur)
        owner = np.concatenate(
            [
                np.flatnonzero(first_buy),
                np.repeat(np.arange(n), n_pre),
                np.repeat(np.arange(n), n_post),
            ]
        )
        t = np.concatenate(
            [
                p.join[first_buy] + rng.uniform(0.001, 0.05, first_buy.sum()),
                np.repeat(p.join, n_pre) + rng.random(n_pre.sum()) * np.repeat(dur, n_pre),
                H + rng.random(n_post.sum()) * np.repeat(post_dur, n_post),
            ]
        )
        keep = t < H + TRUTH_HORIZON_DAYS
        owner, t = owner[keep], t[keep]
        order = np.lexsort((t, owner))
        owner, t = owner[order], t[order]
        d = self._order_details(owner, t)
        self.o_owner, self.o_t, self.o_status, self.o_total = owner, t, d["status"], d["total"]
        self.o_total_eur = d["total_eur"]
        self.o_discount, self.o_items = d["discount"], d["n_items"]
        self.i_order, self.i_product, self.i_qty, self.i_price = (
            d["item_order"],
            d["product"],
            d["qty"],
            d["unit_price"],
        )
        # Which campaign e-mail brought the order (index into self.campaigns), -1 for none.
        self.o_campaign = np.full(len(t), -1)
        self.first_buy_t = np.full(n, np.inf)
        np.minimum.at(self.first_buy_t, owner, t)

    def _order_details(self, owner: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Status, lines, prices and discount of orders placed by `owner` at `t`."""
        rng, p = self.rng, self.p
        m = len(owner)
        status = rng.choice(
            np.array(["completed", "cancelled", "refunded"]),
            size=m,
            p=[COMPLETED_RATE, CANCEL_RATE, REFUND_RATE],
        )
        # Order lines.
        n_items = 1 + rng.poisson(0.7, m)
        item_order = np.repeat(np.arange(m), n_items)
        item_owner = owner[item_order]
        product = self.pick_products(item_owner)
        qty = 1 + (rng.random(len(product)) < 0.15) + (rng.random(len(product)) < 0.05)
        fx = np.array([N.FX_PER_EUR[c] for c in p.currency])[item_owner]
        unit_price = np.round(self.cat.price_eur[product] * fx, 2)
        subtotal = np.bincount(item_order, weights=qty * unit_price, minlength=m)
        promo = rng.random(m) < 0.45 * p.price_sens[owner]
        discount = np.round(np.where(promo, subtotal * rng.choice([0.1, 0.15, 0.2], m), 0.0), 2)
        total = np.round(subtotal - discount, 2)
        order_fx = np.array([N.FX_PER_EUR[c] for c in p.currency])[owner]
        return {
            "status": status,
            "n_items": n_items,
            "item_order": item_order,
            "product": product,
            "qty": qty,
            "unit_price": unit_price,
            "discount": discount,
            "total": total,
            "total_eur": total / order_fx,
        }

    # ------------------------------------------------------------------ accounts
    def simulate_accounts(self) -> None:
        rng, p, H, n = self.rng, self.p, self.H, self.n
        wants = rng.random(n) < 0.62
        acct_t = np.where(
            np.isfinite(self.first_buy_t),
            self.first_buy_t,
            np.where(rng.random(n) < 0.25, p.join + rng.uniform(0, 5, n), np.inf),
        )
        self.acct_t = np.where(wants & (acct_t < H), acct_t, np.inf)
        self.has_acct = np.isfinite(self.acct_t)
        self.customer_id = np.full(n, None, dtype=object)
        k = self.has_acct.sum()
        self.customer_id[self.has_acct] = [str(100000 + x) for x in _take(k, self.c.customer, rng)]
        self.c.customer += k
        self.accepts_marketing = self.has_acct & (rng.random(n) < 0.6)
        # Registered orders: placed with an account, except the odd guest checkout.
        o_reg = (self.o_t >= self.acct_t[self.o_owner] - 1e-9) & (rng.random(len(self.o_t)) >= 0.07)
        self.o_reg = o_reg
        m = len(self.o_t)
        self.order_id = np.array(
            [f"#{x}" for x in _take(m, 500000 + self.c.order, rng)], dtype=object
        )
        self.c.order += m

    # ------------------------------------------------------------------ shop tables
    def _messy(self, fn, values: np.ndarray, styles: np.ndarray) -> np.ndarray:
        return np.array(
            [fn(v, int(s)) if v is not None else None for v, s in zip(values, styles, strict=True)],
            dtype=object,
        )

    def _phones(self, people_idx: np.ndarray, share: float) -> np.ndarray:
        """The person's phone, written in a random format, for `share` of the rows."""
        p, rng = self.p, self.rng
        m = len(people_idx)
        keep = (rng.random(m) < share) & np.array(
            [x is not None for x in p.phone[people_idx]], dtype=bool
        )
        styles = rng.integers(0, 5, m)
        out = np.full(m, None, dtype=object)
        sel = np.flatnonzero(keep)
        out[sel] = [
            T.format_phone(cc, nat, int(st))
            for cc, nat, st in zip(
                p.phone_cc[people_idx[sel]], p.phone[people_idx[sel]], styles[sel], strict=True
            )
        ]
        return out

    def _countries(self, codes: np.ndarray) -> np.ndarray:
        rng = self.rng
        u = rng.random(len(codes))
        k = rng.integers(0, 10, len(codes))
        return np.array(
            [
                N.COUNTRY_SPELLINGS[c][0]
                if x < 0.6
                else N.COUNTRY_SPELLINGS[c][j % len(N.COUNTRY_SPELLINGS[c])]
                for c, x, j in zip(codes, u, k, strict=True)
            ],
            dtype=object,
        )

    def shop_tables(self) -> dict[str, pa.Table]:
        rng, p, H = self.rng, self.p, self.H
        # customers: one row per account, and a later edited version for some
        idx = np.flatnonzero(self.has_acct)
        k = len(idx)
        email_style = rng.integers(0, 8, k)
        base = pd.DataFrame(
            {
                "customer_id": self.customer_id[idx],
                "email": self._messy(
                    T.messy_email, p.email[idx], np.where(email_style < 4, email_style, 0)
                ),
                "phone": self._phones(idx, 0.6),
                "first_name": self._messy(T.messy_name, p.first[idx], rng.integers(0, 12, k)),
                "last_name": self._messy(T.messy_name, p.last[idx], rng.integers(0, 12, k)),
                "country": self._countries(p.country[idx]),
                "accepts_marketing": np.where(self.accepts_marketing[idx], "true", "false"),
                "created_at": self.acct_t[idx],
                "updated_at": self.acct_t[idx],
            }
        )
        upd = self.acct_t[idx] + rng.uniform(1, 200, k)
        v2_rows = np.flatnonzero((rng.random(k) < 0.1) & (upd < H))
        v2 = base.iloc[v2_rows].copy()
        v2["updated_at"] = upd[v2_rows]
        v2["first_name"] = p.first[idx[v2_rows]]
        v2["last_name"] = p.last[idx[v2_rows]]
        customers = self._finish(
            pd.concat([base, v2], ignore_index=True), ["created_at", "updated_at"], T.naive_utc
        )
        self.records.extend(
            zip(["shop_customers"] * k, self.customer_id[idx], p.pid[idx], strict=True)
        )

        # orders placed before the as-of date; a refund re-lands the order later
        vis = np.flatnonzero(self.o_t < H)
        m = len(vis)
        owner = p_idx = self.o_owner[vis]
        guest = ~self.o_reg[vis]
        has2 = np.array([x is not None for x in p.email2[owner]], dtype=bool)
        email = np.where(guest & has2 & (rng.random(m) < 0.3), p.email2[owner], p.email[owner])
        email = np.where(guest & (rng.random(m) < 0.004), N.STORE_EMAIL, email)
        status = self.o_status[vis]
        order_t = self.o_t[vis]
        cancelled_at = np.minimum(order_t + rng.uniform(0.001, 0.2, m), H - 1e-5)
        updated = np.where(status == "cancelled", cancelled_at, order_t)
        postcode = p.postcode[p_idx]
        squashed = np.array([pc_.lower().replace(" ", "") for pc_ in postcode], dtype=object)
        orders = pd.DataFrame(
            {
                "order_id": self.order_id[vis],
                "customer_id": np.where(guest, None, self.customer_id[owner]),
                "email": self._messy(T.messy_email, email, rng.integers(0, 8, m) % 4),
                "phone": self._phones(owner, 0.5),
                "order_at": order_t,
                "currency": p.currency[owner],
                "total_amount": _fmt_money(self.o_total[vis]),
                "discount_amount": _fmt_money(self.o_discount[vis]),
                "status": np.where(status == "cancelled", "cancelled", "completed"),
                "shipping_first_name": self._messy(
                    T.messy_name, p.first[owner], rng.integers(0, 10, m)
                ),
                "shipping_last_name": self._messy(
                    T.messy_name, p.last[owner], rng.integers(0, 10, m)
                ),
                "shipping_street": p.street[owner],
                "shipping_postcode": np.where(rng.random(m) < 0.9, postcode, squashed),
                "shipping_city": p.city[owner],
                "shipping_country": self._countries(p.country[owner]),
                "updated_at": updated,
            }
        )
        refund_t = order_t + rng.uniform(3, 25, m)
        refunded = np.flatnonzero((status == "refunded") & (refund_t < H))
        again = orders.iloc[refunded].copy()
        again["status"] = "refunded"
        again["updated_at"] = refund_t[refunded]
        orders = pd.concat([orders, again], ignore_index=True)
        tz = np.concatenate([p.tz[owner], p.tz[owner[refunded]]])
        order_at = T.iso_local(self.ts(orders["order_at"].to_numpy(dtype="float64")), tz)
        orders = self._finish(orders, ["order_at", "updated_at"], T.naive_utc)
        orders = orders.set_column(orders.schema.get_field_index("order_at"), "order_at", order_at)
        g = vis[guest]
        self.records.extend(
            zip(["shop_orders"] * len(g), self.order_id[g], p.pid[self.o_owner[g]], strict=True)
        )

        # order items of visible orders
        vis_set = np.zeros(len(self.o_t), dtype=bool)
        vis_set[vis] = True
        im = vis_set[self.i_order]
        ni = int(im.sum())
        items = pa.table(
            {
                "order_item_id": T.prefixed_ids("L", _take(ni, 9_000_000 + self.c.item, rng)),
                "order_id": pa.array(self.order_id[self.i_order[im]], type=pa.string()),
                "product_id": pa.array(self.cat.product_id[self.i_product[im]], type=pa.string()),
                "quantity": pa.array(self.i_qty[im].astype(str), type=pa.string()),
                "unit_price": pa.array(_fmt_money(self.i_price[im]), type=pa.string()),
                "_loaded_at": self.loaded_at(self.o_t[self.i_order[im]]),
            }
        )
        self.c.item += ni
        return {
            "shop_customers": customers,
            "shop_orders": orders,
            "shop_order_items": items,
        }

    def _country(self, code: str) -> str:
        sp = N.COUNTRY_SPELLINGS[code]
        return sp[0] if self.rng.random() < 0.6 else sp[int(self.rng.integers(len(sp)))]

    def _finish(self, df: pd.DataFrame, time_cols: list[str], fmt) -> pa.Table:
        """Format float-day columns, add `_loaded_at` from the last of them."""
        if df.empty:
            return pa.Table.from_pandas(df, preserve_index=False)
        last = df[time_cols[-1]].to_numpy(dtype="float64")
        tbl = pa.Table.from_pandas(df.drop(columns=time_cols), preserve_index=False)
        for col in time_cols:
            vals = df[col].to_numpy(dtype="float64")
            arr = fmt(self.ts(np.nan_to_num(vals, nan=0.0)))
            arr = pc.if_else(pa.array(np.isnan(vals)), pa.scalar(None, pa.string()), arr)
            tbl = tbl.append_column(col, arr)
        return tbl.append_column("_loaded_at", self.loaded_at(last))

    # ------------------------------------------------------------------ CRM
    def crm_table(self) -> pa.Table:
        rng, p, H, n = self.rng, self.p, self.H, self.n
        buyer = np.isfinite(self.first_buy_t) & (self.first_buy_t < H)
        in_crm = rng.random(n) < np.where(buyer, 0.55, 0.15)
        created = np.where(buyer, self.first_buy_t, p.join) + rng.uniform(0, 30, n)
        idx = np.flatnonzero(in_crm & (created < H))
        dup = rng.random(len(idx)) < 0.06
        n_contacts = len(idx) + int(dup.sum())
        ids = iter(_take(n_contacts, 700000 + self.c.contact, rng))
        self.c.contact += n_contacts
        rows = []
        for k, i in enumerate(idx):
            cid = f"CRM-{next(ids)}"
            r = rng.random()
            email = (
                N.PLACEHOLDER_EMAILS[int(rng.integers(len(N.PLACEHOLDER_EMAILS)))]
                if r < 0.004
                else (T.messy_email(p.email[i], int(rng.integers(0, 8)) % 4) if r < 0.86 else None)
            )
            phone = None
            if p.phone[i] is not None and rng.random() < 0.65:
                phone = T.format_phone(p.phone_cc[i], p.phone[i], int(rng.integers(5)))
            if rng.random() < 0.003:
                phone = N.PLACEHOLDER_PHONES[int(rng.integers(len(N.PLACEHOLDER_PHONES)))]
            base = {
                "contact_id": cid,
                "email": email,
                "phone": phone,
                "first_name": T.messy_name(p.first[i], int(rng.integers(0, 10))),
                "last_name": T.messy_name(p.last[i], int(rng.integers(0, 10))),
                "street": p.street[i],
                "city": p.city[i],
                "postcode": p.postcode[i],
                "country": self._country(p.country[i]),
                "birth_date": str(p.birth[i]) if rng.random() < 0.7 else None,
                "created_at": created[i],
                "updated_at": created[i],
            }
            rows.append(base)
            self.records.append(("crm_contacts", cid, p.pid[i]))
            if rng.random() < 0.2:
                upd = created[i] + rng.uniform(1, 300)
                if upd < H:
                    rows.append(
                        dict(
                            base,
                            updated_at=upd,
                            city=p.city[i].upper(),
                        )
                    )
            if dup[k]:
                # A second contact for the same person, keyed by another agent.
                c2 = f"CRM-{next(ids)}"
                t2 = created[i] + rng.uniform(5, 200)
                if t2 < H:
                    e2 = (
                        T.typo_email(p.email[i], float(rng.random()))
                        if rng.random() < 0.5
                        else None
                    )
                    rows.append(
                        dict(
                            base,
                            contact_id=c2,
                            email=e2,
                            phone=None if rng.random() < 0.5 else base["phone"],
                            first_name=T.messy_name(p.first[i], 4 if rng.random() < 0.3 else 0),
                            birth_date=str(p.birth[i]) if rng.random() < 0.8 else None,
                            created_at=t2,
                            updated_at=t2,
                        )
                    )
                    self.records.append(("crm_contacts", c2, p.pid[i]))
        df = pd.DataFrame(
            rows,
            columns=[
                "contact_id",
                "email",
                "phone",
                "first_name",
                "last_name",
                "street",
                "city",
                "postcode",
                "country",
                "birth_date",
                "created_at",
                "updated_at",
            ],
        )
        return self._finish(df, ["created_at", "updated_at"], T.naive_utc)

    # ------------------------------------------------------------------ ESP
    def simulate_esp(self) -> None:
        rng, p, H, n = self.rng, self.p, self.H, self.n
        web_form = rng.random(n) < 0.5
        in_esp = web_form | self.accepts_marketing
        created = np.where(self.accepts_marketing, self.acct_t, p.join + rng.uniform(0, 25, n))
        in_esp &= created < H
        self.esp_idx = np.flatnonzero(in_esp)
        k = len(self.esp_idx)
        self.esp_created = created[self.esp_idx]
        self.esp_source = np.where(
            self.accepts_marketing[self.esp_idx],
            "checkout",
            np.where(rng.random(k) < 0.85, "web_form", "import"),
        )
        self.esp_id = np.array(
            [f"sub_{x}" for x in _take(k, 300000 + self.c.subscriber, rng)], dtype=object
        )
        self.c.subscriber += k
        emails = []
        self.esp_invalid = np.zeros(k, dtype=bool)
        for j, i in enumerate(self.esp_idx):
            e = p.email[i]
            r = rng.random()
            if p.is_gmail[i] and r < 0.4:
                e = T.gmail_variant(
                    e, int(rng.integers(2)), ("news", "shop", "promo")[int(rng.integers(3))]
                )
            elif p.email2[i] is not None and r > 0.85:
                e = p.email2[i]
            if rng.random() < 0.003:
                e = T.invalid_email(e, int(rng.integers(5)))
                self.esp_invalid[j] = True
            emails.append(
                T.messy_email(e, int(rng.integers(0, 10)) % 4 if rng.random() < 0.2 else 0)
            )
        self.esp_email = np.array(emails, dtype=object)
        for j, i in enumerate(self.esp_idx):
            self.records.append(("esp_subscribers", self.esp_id[j], p.pid[i]))
        self._simulate_email_events()

    def _simulate_email_events(self) -> None:
        rng, p, H = self.rng, self.p, self.H
        idx = self.esp_idx
        k = len(idx)
        active = ~self.esp_invalid.copy()
        recv = np.zeros(k)
        last = np.zeros(k)
        self.esp_status = np.array(["subscribed"] * k, dtype=object)
        self.esp_status_t = np.full(k, np.inf)
        ev: dict[str, list] = {
            x: [] for x in ("sub", "cmp", "type", "t", "variant", "url", "bounce", "ua")
        }
        ua_person = np.array(N.USER_AGENTS, dtype=object)[rng.integers(0, len(N.USER_AGENTS), k)]

        def emit(sub, cmp, typ, t, variant=None, url=None, bounce=None, ua=None):
            m = len(sub)
            ev["sub"].append(sub)
            ev["cmp"].append(np.full(m, cmp, dtype=object))
            ev["type"].append(np.full(m, typ, dtype=object))
            ev["t"].append(t)
            ev["variant"].append(variant if variant is not None else np.full(m, None, dtype=object))
            ev["url"].append(url if url is not None else np.full(m, None, dtype=object))
            ev["bounce"].append(bounce if bounce is not None else np.full(m, None, dtype=object))
            ev["ua"].append(ua if ua is not None else np.full(m, None, dtype=object))

        # Every e-mail sent (one row per recipient and campaign) with the chance
        # that it brings an extra order, and the time that chance starts from.
        eff: dict[str, list] = {
            x: [] for x in ("sub", "cmp", "variant", "send", "trigger", "kind", "p")
        }
        held: dict[str, list] = {x: [] for x in ("sub", "cmp", "t")}
        for ci, c in enumerate(self.campaigns):
            if c.kind == "triggered":
                recip = np.flatnonzero(active)
                send_t = self.esp_created[recip] + rng.uniform(0.002, 0.02, len(recip))
            else:
                elig = active & (self.esp_created < c.day)
                recip = np.flatnonzero(elig & (rng.random(k) < c.reach * p.pressure[idx]))
                send_t = c.day + rng.uniform(0, 0.08, len(recip))
            keep = send_t < H
            recip, send_t = recip[keep], send_t[keep]
            if c.holdout_share > 0 and len(recip):
                # The control group: would have been sent, gets nothing; the ESP
                # records its enrollment (Braze's EnrollInControl) at send time.
                out = rng.random(len(recip)) < c.holdout_share
                emit(recip[out], c.campaign_id, "holdout", send_t[out])
                held["sub"].append(recip[out])
                held["cmp"].append(np.full(out.sum(), ci))
                held["t"].append(send_t[out])
                recip, send_t = recip[~out], send_t[~out]
            if not len(recip):
                continue
            owner = idx[recip]
            recv[recip] = recv[recip] * np.exp(-(send_t - last[recip]) / 30.0) + 1.0
            last[recip] = send_t
            variant = np.where(rng.random(len(recip)) < 0.5, "A", "B") if c.has_variants else None
            emit(recip, c.campaign_id, "send", send_t, variant)
            u = rng.random(len(recip))
            hard = u < 0.003
            soft = (u >= 0.003) & (u < 0.013)
            delivered = ~(hard | soft)
            b_idx = np.flatnonzero(hard | soft)
            emit(
                recip[b_idx],
                c.campaign_id,
                "bounce",
                send_t[b_idx] + 0.0005,
                None if variant is None else variant[b_idx],
                bounce=np.where(hard[b_idx], "hard", "soft").astype(object),
            )
            d_idx = np.flatnonzero(delivered)
            emit(
                recip[d_idx],
                c.campaign_id,
                "delivered",
                send_t[d_idx] + 0.0003,
                None if variant is None else variant[d_idx],
            )
            alive_f = np.where(send_t > p.alive_end[owner], 0.35, 1.0)
            # Over-mailing: engagement decays with the recent send count (30-day decay).
            fatigue = np.exp(-0.35 * np.clip(recv[recip] - 1.5, 0, None))
            lift = np.where(np.asarray(variant) == "B", 1.12, 1.0) if variant is not None else 1.0
            p_open = np.clip(p.open_base[owner] * fatigue * alive_f * lift, 0, 0.95)
            human = delivered & (rng.random(len(recip)) < p_open)
            machine = delivered & p.mpp[owner]
            m_idx = np.flatnonzero(machine)
            emit(
                recip[m_idx],
                c.campaign_id,
                "open",
                send_t[m_idx] + rng.uniform(0.0005, 0.004, len(m_idx)),
                None if variant is None else variant[m_idx],
                ua=np.full(len(m_idx), N.MPP_USER_AGENT, dtype=object),
            )
            h_idx = np.flatnonzero(human)
            st = send_t[h_idx]
            delay_days = rng.geometric(0.6, len(h_idx)) - 1
            local_hour = (p.pref_hour[owner[h_idx]] + rng.normal(0, 1.2, len(h_idx))) / 24.0
            off = T.utc_offset_hours(self.start, st, p.tz[owner[h_idx]]) / 24.0
            open_t = np.floor(st + off) + delay_days + local_hour - off
            open_t = np.where(open_t <= st, open_t + 1.0, open_t)
            emit(
                recip[h_idx],
                c.campaign_id,
                "open",
                open_t,
                None if variant is None else variant[h_idx],
                ua=ua_person[recip[h_idx]],
            )
            clicked = rng.random(len(h_idx)) < np.clip(
                p.click_base[owner[h_idx]] * alive_f[h_idx], 0, 0.9
            )
            c_idx = h_idx[clicked]
            prods = self.cat.product_id[self.pick_products(owner[c_idx], fav_share=0.2)]
            urls = np.char.add(
                np.char.add("https://shop.example/p/", prods.astype(str)),
                f"?utm_campaign={c.campaign_id}",
            )
            click_t = open_t[clicked] + rng.uniform(0.0002, 0.01, len(c_idx))
            emit(
                recip[c_idx],
                c.campaign_id,
                "click",
                click_t,
                None if variant is None else variant[c_idx],
                url=urls.astype(object),
                ua=ua_person[recip[c_idx]],
            )
            # The e-mail's effect on orders: the deepest human engagement (delivered,
            # opened, clicked) sets the chance of an extra order, which follows that
            # moment; only while the recipient is alive. Machine opens do nothing.
            cfg = self.cfg
            chance = np.where(delivered, cfg.email_order_probability_delivered, 0.0)
            trigger = send_t + 0.0003
            kind = np.where(delivered, 1, 0)  # index into TRIGGER_KINDS
            chance[h_idx] = cfg.email_order_probability_opened
            trigger[h_idx] = open_t
            kind[h_idx] = 2
            chance[c_idx] = cfg.email_order_probability_clicked
            trigger[c_idx] = click_t
            kind[c_idx] = 3
            chance[send_t >= p.alive_end[owner]] = 0.0
            eff["sub"].append(recip)
            eff["cmp"].append(np.full(len(recip), ci))
            eff["variant"].append(
                np.full(len(recip), "default", dtype=object) if variant is None else variant
            )
            eff["send"].append(send_t)
            eff["trigger"].append(trigger)
            eff["kind"].append(kind)
            eff["p"].append(chance)
            # Complaints and unsubscribes end the relationship; hard bounces clean the address.
            u2 = rng.random(len(recip))
            unsub = delivered & (u2 < 0.0015 + 0.003 * np.clip(recv[recip] - 1.5, 0, None))
            spam = delivered & ~unsub & (u2 > 1 - 0.0004)
            for mask, typ, status in (
                (unsub, "unsubscribe", "unsubscribed"),
                (spam, "spam_complaint", "unsubscribed"),
            ):
                s_idx = np.flatnonzero(mask)
                t_ev = send_t[s_idx] + rng.uniform(0.01, 1.0, len(s_idx))
                emit(
                    recip[s_idx],
                    c.campaign_id,
                    typ,
                    t_ev,
                    None if variant is None else variant[s_idx],
                )
                self.esp_status[recip[s_idx]] = status
                self.esp_status_t[recip[s_idx]] = t_ev
                active[recip[s_idx]] = False
            h_rec = recip[hard]
            self.esp_status[h_rec] = "cleaned"
            self.esp_status_t[h_rec] = send_t[hard] + 0.0005
            active[h_rec] = False
        self.email_events = {key: np.concatenate(v) if v else np.array([]) for key, v in ev.items()}
        self.effects = {
            key: np.concatenate(v)
            if v
            else np.array([], dtype={"variant": object, "kind": int}.get(key, float))
            for key, v in eff.items()
        }
        self.held = {key: np.concatenate(v) if v else np.array([]) for key, v in held.items()}
        self._add_induced_orders()

    def _delay_cdf(self, x: np.ndarray) -> np.ndarray:
        """P(an e-mail's extra order follows its trigger within x days): truncated exponential."""
        mean, top = self.cfg.email_order_delay_mean_days, self.cfg.email_order_delay_max_days
        x = np.clip(np.asarray(x, dtype="float64"), 0.0, top)
        return -np.expm1(-x / mean) / -np.expm1(-top / mean)

    def _add_induced_orders(self) -> None:
        """Orders the campaign e-mails brought, through the normal order pipeline."""
        rng, e = self.rng, self.effects
        mean, top = self.cfg.email_order_delay_mean_days, self.cfg.email_order_delay_max_days
        m = len(e["sub"])
        induced = rng.random(m) < e["p"]
        # inverse CDF of the truncated exponential delay
        delay = -mean * np.log1p(rng.random(m) * np.expm1(-top / mean))
        rows = np.flatnonzero(induced)
        owner = self.esp_idx[e["sub"][rows].astype(int)]
        t = e["trigger"][rows] + delay[rows]
        keep = t < self.H + TRUTH_HORIZON_DAYS
        rows, owner, t = rows[keep], owner[keep], t[keep]
        k, m_old = len(rows), len(self.o_t)
        d = self._order_details(owner, t)
        self.o_owner = np.concatenate([self.o_owner, owner])
        self.o_t = np.concatenate([self.o_t, t])
        self.o_status = np.concatenate([self.o_status, d["status"]])
        self.o_total = np.concatenate([self.o_total, d["total"]])
        self.o_total_eur = np.concatenate([self.o_total_eur, d["total_eur"]])
        self.o_discount = np.concatenate([self.o_discount, d["discount"]])
        self.o_items = np.concatenate([self.o_items, d["n_items"]])
        self.i_order = np.concatenate([self.i_order, d["item_order"] + m_old])
        self.i_product = np.concatenate([self.i_product, d["product"]])
        self.i_qty = np.concatenate([self.i_qty, d["qty"]])
        self.i_price = np.concatenate([self.i_price, d["unit_price"]])
        self.o_campaign = np.concatenate([self.o_campaign, e["cmp"][rows].astype(int)])
        # with the account if they have one (and the odd guest checkout), as every order
        reg = (t >= self.acct_t[owner] - 1e-9) & (rng.random(k) >= 0.07)
        self.o_reg = np.concatenate([self.o_reg, reg])
        ids = np.array([f"#{x}" for x in _take(k, 500000 + self.c.order, rng)], dtype=object)
        self.order_id = np.concatenate([self.order_id, ids])
        self.c.order += k
        np.minimum.at(self.first_buy_t, owner, t)
        self.effect_order = np.full(m, -1)
        self.effect_order[rows] = m_old + np.arange(k)

    def induced_orders_truth(self) -> pd.DataFrame:
        """One row per order a campaign e-mail brought: which e-mail, after what, when."""
        e, rows = self.effects, np.flatnonzero(self.effect_order >= 0)
        order = self.effect_order[rows]
        start = pd.Timestamp(str(self.start))
        return pd.DataFrame(
            {
                "order_id": self.order_id[order].astype(str),
                "true_person_id": self.p.pid[self.o_owner[order]],
                "campaign_id": [self.campaigns[i].campaign_id for i in e["cmp"][rows].astype(int)],
                "variant": e["variant"][rows].astype(str),
                "trigger": np.array(TRIGGER_KINDS, dtype=object)[e["kind"][rows]],
                "triggered_at": start + pd.to_timedelta(e["trigger"][rows], unit="D"),
                "ordered_at": start + pd.to_timedelta(self.o_t[order], unit="D"),
                "status": self.o_status[order],
                "is_registered": self.o_reg[order],
                "is_visible": self.o_t[order] < self.H,
                "total_amount_eur": np.round(self.o_total_eur[order], 2),
            }
        )

    def esp_tables(self) -> dict[str, pa.Table]:
        rng, p, H = self.rng, self.p, self.H
        idx, k = self.esp_idx, len(self.esp_idx)
        # subscriber versions
        rows = []
        for j in range(k):
            i = idx[j]
            base = {
                "subscriber_id": self.esp_id[j],
                "email": self.esp_email[j],
                "first_name": p.first[i] if rng.random() < 0.5 else None,
                "last_name": p.last[i] if rng.random() < 0.3 else None,
                "status": "subscribed",
                "signup_source": self.esp_source[j],
                "created_at": self.esp_created[j],
                "updated_at": self.esp_created[j],
            }
            rows.append(base)
            if self.esp_status_t[j] < H:
                rows.append(dict(base, status=self.esp_status[j], updated_at=self.esp_status_t[j]))
            if self.esp_invalid[j]:
                self.defects.append(("esp_subscribers", self.esp_id[j], "invalid_email"))
        subs = self._finish(
            pd.DataFrame(
                rows,
                columns=[
                    "subscriber_id",
                    "email",
                    "first_name",
                    "last_name",
                    "status",
                    "signup_source",
                    "created_at",
                    "updated_at",
                ],
            ),
            ["created_at", "updated_at"],
            T.iso_utc,
        )
        # email events (landed before H only)
        e = self.email_events
        t = np.asarray(e["t"], dtype="float64") if len(e["t"]) else np.array([])
        recv_t = t + self._lags(len(t))
        keep = recv_t < H
        m = int(keep.sum())
        sub = e["sub"][keep].astype(int) if m else np.array([], dtype=int)
        events = pa.table(
            {
                "event_id": T.prefixed_ids("ev_", _take(m, 10_000_000 + self.c.email_event, rng)),
                "subscriber_id": pa.array(self.esp_id[sub] if m else [], type=pa.string()),
                "campaign_id": pa.array(e["cmp"][keep] if m else [], type=pa.string()),
                "email": pa.array(
                    [x.strip().lower() for x in self.esp_email[sub]] if m else [], type=pa.string()
                ),
                "event_type": pa.array(e["type"][keep] if m else [], type=pa.string()),
                "event_at": T.iso_utc(self.ts(t[keep])),
                "received_at": T.iso_utc(self.ts(recv_t[keep])),
                "variant": pa.array(e["variant"][keep] if m else [], type=pa.string()),
                "url": pa.array(e["url"][keep] if m else [], type=pa.string()),
                "bounce_type": pa.array(e["bounce"][keep] if m else [], type=pa.string()),
                "user_agent": pa.array(e["ua"][keep] if m else [], type=pa.string()),
                "_loaded_at": self.loaded_at(recv_t[keep], 0.1),
            }
        )
        self.c.email_event += m
        campaigns = None
        return {"esp_subscribers": subs, "esp_email_events": events, "esp_campaigns": campaigns}

    def _lags(self, m: int) -> np.ndarray:
        """Delivery lag: seconds usually; 2% arrive hours to days late."""
        lag = self.rng.uniform(0.5, 8.0, m) / 86400
        late = self.rng.random(m) < 0.02
        lag[late] = self.rng.uniform(1 / 24, 3.0, late.sum())
        return lag

    # ------------------------------------------------------------------ web
    def web_table(self) -> pa.Table:
        rng, p, H, n = self.rng, self.p, self.H, self.n
        devices = _hex_ids(rng, n * 3).reshape(n, 3)
        dev_w = np.array([[1.0, 0, 0], [0.7, 0.3, 0], [0.6, 0.25, 0.15]])
        # Browse sessions while alive (and a little after), purchase sessions before each order.
        active = np.clip(np.minimum(p.alive_end + 20, H) - p.join, 0, None)
        n_browse = rng.poisson((1.6 * p.lam + 0.004) * active)
        b_owner = np.repeat(np.arange(n), n_browse)
        b_t = np.repeat(p.join, n_browse) + rng.random(len(b_owner)) * np.repeat(active, n_browse)
        vis = np.flatnonzero(self.o_t < H)
        o_owner, o_t = self.o_owner[vis], self.o_t[vis]
        s_owner = np.concatenate([b_owner, o_owner])
        s_start = np.concatenate([b_t, o_t - rng.uniform(0.002, 0.02, len(vis))])
        s_order = np.concatenate([np.full(len(b_owner), -1), vis])
        ns = len(s_owner)
        u = rng.random(ns)
        cw = np.cumsum(dev_w[p.n_devices[s_owner] - 1], axis=1)
        s_dev = (u[:, None] > cw).sum(axis=1)
        s_dev = np.where(s_order >= 0, np.where(rng.random(ns) < 0.75, 0, s_dev), s_dev)
        parts: list[dict[str, np.ndarray]] = []

        def part(sess, t, typ, props):
            parts.append(
                {
                    "sess": sess,
                    "t": t,
                    "type": np.full(len(sess), typ, dtype=object),
                    "props": props,
                }
            )

        empty = np.full(ns, "{}", dtype=object)
        part(np.arange(ns), s_start, "page_view", empty)
        # product views in browse sessions
        browse = np.flatnonzero(s_order < 0)
        n_view = rng.poisson(2.2, len(browse))
        v_sess = np.repeat(browse, n_view)
        v_rank = np.arange(len(v_sess)) - np.repeat(np.cumsum(n_view) - n_view, n_view)
        v_t = s_start[v_sess] + (v_rank + 1) * rng.uniform(0.0003, 0.002, len(v_sess))
        v_prod = self.pick_products(s_owner[v_sess], fav_share=0.25)
        part(v_sess, v_t, "product_view", self._product_props(v_prod))
        # add to cart of the last viewed product (most never buy: abandonment)
        has_view = n_view > 0
        last_view = (np.cumsum(n_view) - 1)[has_view]
        cart = rng.random(len(last_view)) < 0.16
        cv = last_view[cart]
        part(v_sess[cv], v_t[cv] + 0.0004, "add_to_cart", self._product_props(v_prod[cv]))
        # purchase sessions: view and add each ordered item, then check out
        ps = np.flatnonzero(s_order >= 0)
        order_of_sess = s_order[ps]
        sess_of_order = np.full(len(self.o_t), -1)
        sess_of_order[order_of_sess] = ps
        it = np.flatnonzero(sess_of_order[self.i_order] >= 0)
        it_sess = sess_of_order[self.i_order[it]]
        it_t = s_start[it_sess] + rng.uniform(0.0003, 0.008, len(it))
        props = self._product_props(self.i_product[it])
        part(it_sess, it_t, "product_view", props)
        part(it_sess, it_t + 0.0003, "add_to_cart", props)
        guest = ~self.o_reg[order_of_sess]
        co_email = np.array(
            [
                T.messy_email(p.email[i], 0) if g else ""
                for i, g in zip(o_owner, guest, strict=True)
            ],
            dtype=object,
        )
        co_props = np.where(
            guest,
            T.concat(
                '{"order_id":"',
                pa.array(self.order_id[order_of_sess]),
                '","email":"',
                pa.array(co_email, type=pa.string()),
                '"}',
            ).to_numpy(zero_copy_only=False),
            T.concat('{"order_id":"', pa.array(self.order_id[order_of_sess]), '"}').to_numpy(
                zero_copy_only=False
            ),
        )
        part(ps, self.o_t[order_of_sess] - 0.0007, "checkout", co_props.astype(object))
        # identify: first session on a device after the account exists (90% log in)
        sess_df = pd.DataFrame({"owner": s_owner, "dev": s_dev, "t": s_start})
        sess_df = sess_df[(sess_df["t"] >= self.acct_t[sess_df["owner"].to_numpy()])]
        first = (
            sess_df.loc[sess_df.groupby(["owner", "dev"])["t"].idxmin()]
            if len(sess_df)
            else sess_df
        )
        login = rng.random(len(first)) < 0.9
        login = login | (first["dev"].to_numpy() == 0)
        first = first[login]
        ident_at = np.full((n, 3), np.inf)
        ident_at[first["owner"].to_numpy(), first["dev"].to_numpy()] = first["t"].to_numpy()
        id_sess_index = pd.Series(np.arange(ns))
        id_mask = np.isfinite(ident_at[s_owner, s_dev]) & (s_start == ident_at[s_owner, s_dev])
        id_sess = id_sess_index[id_mask].to_numpy()
        id_email = [T.messy_email(p.email[i], 0) for i in s_owner[id_sess]]
        part(
            id_sess,
            s_start[id_sess] + 0.00001,
            "identify",
            T.concat('{"email":"', pa.array(id_email, type=pa.string()), '"}')
            .to_numpy(zero_copy_only=False)
            .astype(object),
        )
        # newsletter sign-up form on the main device
        wf = np.flatnonzero(self.esp_source == "web_form")
        wf_owner = self.esp_idx[wf]
        # a sign-up is its own little session
        su_sess = np.arange(ns, ns + len(wf))
        s_owner = np.concatenate([s_owner, wf_owner])
        s_dev = np.concatenate([s_dev, np.zeros(len(wf), dtype=int)])
        s_start = np.concatenate([s_start, self.esp_created[wf] - 0.0005])
        part(su_sess, s_start[su_sess], "page_view", np.full(len(wf), "{}", dtype=object))
        part(
            su_sess,
            s_start[su_sess] + 0.0002,
            "signup",
            T.concat(
                '{"email":"',
                pa.array(list(self.esp_email[wf]), type=pa.string()),
                '","form":"newsletter"}',
            )
            .to_numpy(zero_copy_only=False)
            .astype(object),
        )

        sess = np.concatenate([x["sess"] for x in parts])
        t = np.concatenate([x["t"] for x in parts])
        typ = np.concatenate([x["type"] for x in parts])
        props = np.concatenate([np.asarray(x["props"], dtype=object) for x in parts])
        owner, dev = s_owner[sess], s_dev[sess]
        recv_t = t + self._lags(len(t))
        keep = (t >= 0) & (recv_t < H)
        owner, dev, t, typ, props, recv_t = (
            owner[keep],
            dev[keep],
            t[keep],
            typ[keep],
            props[keep],
            recv_t[keep],
        )
        logged_in = t >= ident_at[owner, dev]
        user_id = np.where(logged_in, self.customer_id[owner], None)
        anon = devices[owner, dev]
        m = len(t)
        url = np.where(typ == "product_view", "https://shop.example/p", "https://shop.example/")
        tbl = pa.table(
            {
                "event_id": pa.array(_hex_ids(rng, m), type=pa.string()),
                "anonymous_id": pa.array(anon, type=pa.string()),
                "user_id": pa.array(user_id, type=pa.string()),
                "event_type": pa.array(typ, type=pa.string()),
                "event_at": T.iso_local(self.ts(t), p.tz[owner]),
                "received_at": T.iso_utc(self.ts(recv_t)),
                "page_url": pa.array(url, type=pa.string()),
                "properties": pa.array(props, type=pa.string()),
                "_loaded_at": self.loaded_at(recv_t, 0.05),
            }
        )
        seen = pd.DataFrame({"anon": anon, "owner": owner}).drop_duplicates("anon")
        for a, o in zip(seen["anon"], seen["owner"], strict=True):
            self.records.append(("web_events", a, p.pid[o]))
        return tbl

    def _product_props(self, prod: np.ndarray) -> np.ndarray:
        cat = self.cat
        return (
            _json_obj(
                product_id=pa.array(cat.product_id[prod], type=pa.string()),
                category=pa.array(
                    np.array(cat.categories, dtype=object)[cat.category[prod]], type=pa.string()
                ),
                price=pa.array(_fmt_money(cat.price_eur[prod]), type=pa.string()),
            )
            .to_numpy(zero_copy_only=False)
            .astype(object)
        )

    # ------------------------------------------------------------------ consent & erasure
    def privacy_tables(self) -> dict[str, pa.Table]:
        rng, p, H = self.rng, self.p, self.H
        rows = []
        for j, i in enumerate(self.esp_idx):
            rows.append(
                (
                    self.esp_email[j],
                    None,
                    "email",
                    "marketing",
                    "granted",
                    self.esp_created[j],
                    {"checkout": "checkout", "web_form": "web_form"}.get(
                        self.esp_source[j], "import"
                    ),
                )
            )
            if self.esp_status[j] == "unsubscribed" and self.esp_status_t[j] < H:
                rows.append(
                    (
                        self.esp_email[j],
                        None,
                        "email",
                        "marketing",
                        "withdrawn",
                        self.esp_status_t[j],
                        "esp",
                    )
                )
            elif rng.random() < 0.015:
                wt = self.esp_created[j] + rng.uniform(1, 400)
                if wt < H:  # withdrawn in the preference centre; the ESP never heard of it
                    rows.append(
                        (
                            T.messy_email(p.email[i], 0),
                            self.customer_id[i],
                            "email",
                            "marketing",
                            "withdrawn",
                            wt,
                            "preference_center",
                        )
                    )
        for i in np.flatnonzero(self.accepts_marketing):
            rows.append(
                (
                    p.email[i],
                    self.customer_id[i],
                    "email",
                    "marketing",
                    "granted",
                    self.acct_t[i],
                    "checkout",
                )
            )
            if rng.random() < 0.1:
                rows.append(
                    (
                        p.email[i],
                        self.customer_id[i],
                        "sms",
                        "marketing",
                        "granted",
                        self.acct_t[i],
                        "checkout",
                    )
                )
        df = pd.DataFrame(
            rows,
            columns=[
                "email",
                "customer_id",
                "channel",
                "purpose",
                "status",
                "event_at",
                "collected_by",
            ],
        )
        df.insert(0, "consent_event_id", [f"cns-{x}" for x in _take(len(df), self.c.consent, rng)])
        # Consent given with an address that cannot receive mail, and no account to tie it to.
        bad = df["email"].isin(set(self.esp_email[self.esp_invalid])) & df["customer_id"].isna()
        self.defects.extend(
            ("privacy_consent_events", cid, "invalid_email")
            for cid in df.loc[bad, "consent_event_id"]
        )
        self.c.consent += len(df)
        consent = self._finish(df, ["event_at"], T.iso_utc)
        # erasure requests from people the shop or ESP knows
        known = np.flatnonzero(self.has_acct | np.isin(np.arange(self.n), self.esp_idx))
        req = known[rng.random(len(known)) < 0.0015]
        if not len(req) and len(known):  # every chunk carries at least one request to honour
            req = known[rng.integers(0, len(known), 1)]
        er = pd.DataFrame(
            {
                "request_id": [f"dsr-{x}" for x in _take(len(req), self.c.erasure, rng)],
                "email": [T.messy_email(p.email[i], 0) for i in req],
                "customer_id": [self.customer_id[i] for i in req],
                "requested_at": np.maximum(
                    H - rng.uniform(1, 150, len(req)), (p.join[req] + H) / 2
                ),
            }
        )
        self.c.erasure += len(req)
        self.erased = np.zeros(self.n, dtype=bool)
        self.erased[req] = True
        return {
            "privacy_consent_events": consent,
            "privacy_erasure_requests": self._finish(er, ["requested_at"], T.iso_utc),
        }

    # ------------------------------------------------------------------ truth
    def campaign_effect_sums(self) -> pd.DataFrame:
        """Per campaign and variant: recipients and the true effect, as sums over this chunk.

        A recipient converts, as the warehouse measures it, with a completed order
        in [send, send + window), cut at the as-of date. The campaign's
        incremental conversion for a recipient is its extra order landing there
        while no other completed order does: expected (the chance of the extra
        order given the simulated opens and clicks, times no other order) and
        realized. Rows with variant 'holdout' carry the control group's size.
        """
        cfg, e, H = self.cfg, self.effects, self.H
        start = e["send"]
        end = np.minimum(start + cfg.campaign_truth_window_days, H)
        owner = self.esp_idx[e["sub"].astype(int)] if len(start) else np.array([], dtype=int)
        chance_in_window = e["p"] * COMPLETED_RATE * self._delay_cdf(end - e["trigger"])
        done = self.o_status == "completed"
        span = H + TRUTH_HORIZON_DAYS + 100.0  # keys (person, time) as one sortable number
        keys = np.sort(self.o_owner[done] * span + self.o_t[done])
        in_window = np.searchsorted(keys, owner * span + end) - np.searchsorted(
            keys, owner * span + start
        )
        order = self.effect_order
        has = order >= 0
        row = np.where(has, order, 0)
        own = has & done[row] & (self.o_t[row] >= start) & (self.o_t[row] < end)
        other = (in_window - own) > 0
        treated = pd.DataFrame(
            {
                "campaign": e["cmp"].astype(int),
                "variant": e["variant"].astype(str),
                "recipients": np.ones(len(start), dtype=np.int64),
                "expected_incremental_conversions": chance_in_window * ~other,
                "realized_incremental_conversions": (own & ~other).astype(np.int64),
                "induced_orders": has.astype(np.int64),
                "induced_orders_in_window": own.astype(np.int64),
                "induced_revenue_in_window": np.where(own, self.o_total_eur[row], 0.0),
            }
        )
        holdout = pd.DataFrame(
            {
                "campaign": self.held["cmp"].astype(int),
                "variant": "holdout",
                "recipients": np.ones(len(self.held["cmp"]), dtype=np.int64),
            }
        )
        both = pd.concat([treated, holdout], ignore_index=True).fillna(0)
        return both.groupby(["campaign", "variant"], as_index=False).sum()

    def truth_people(self) -> pd.DataFrame:
        p, H = self.p, self.H
        lam_c = p.lam * COMPLETED_RATE
        rate = lam_c + p.mu
        alive = p.alive_end > H
        prob30 = np.where(alive, lam_c / rate * (1 - np.exp(-rate * 30)), 0.0)
        # An e-mail sent shortly before the as-of date can still bring an order after it.
        e = self.effects
        if len(e["sub"]):
            trigger = e["trigger"]
            after = (
                e["p"]
                * COMPLETED_RATE
                * (self._delay_cdf(H + 30 - trigger) - self._delay_cdf(H - trigger))
            )
            none_after = np.ones(self.n)
            np.multiply.at(none_after, self.esp_idx[e["sub"].astype(int)], 1.0 - after)
            prob30 = 1.0 - (1.0 - prob30) * none_after
        post = (self.o_t >= H) & (self.o_status == "completed")
        owner, t = self.o_owner[post], self.o_t[post]
        n = self.n
        bought30 = np.zeros(n, dtype=bool)
        bought30[owner[t < H + 30]] = True
        bought90 = np.zeros(n, dtype=bool)
        bought90[owner[t < H + 90]] = True
        return pd.DataFrame(
            {
                "true_person_id": p.pid,
                "purchase_probability_next_30d": prob30,
                "purchased_next_30d": bought30,
                "churned_next_90d": ~bought90,
                "orders_next_365d": np.bincount(owner, minlength=n),
                "revenue_next_365d": np.round(
                    np.bincount(owner, weights=self.o_total_eur[post], minlength=n), 2
                ),
                "is_alive_at_as_of": alive,
                "purchase_rate_per_day": p.lam,
                "dropout_rate_per_day": p.mu,
                "household_id": np.array([f"TH{x:08d}" for x in p.household]),
                "country": p.country,
                "preferred_hour_local": p.pref_hour,
                "is_erasure_requested": self.erased,
            }
        )
