"""Simulate a retailer's customers and how its systems see them.

People have latent behaviour (Pareto/NBD purchasing: a Poisson purchase rate
and an exponential lifetime, both Gamma-heterogeneous; category and brand
preferences; price sensitivity; e-mail engagement that decays with mail
pressure; a preferred hour and time zone). Systems record them imperfectly:
CRM, shop and ESP keys that differ, messy e-mails and phones, guest checkouts,
anonymous devices identified later, duplicated and late deliveries, test
accounts, refunds, bounces, unsubscribes, consent withdrawals and erasure
requests. Broadcast campaigns hold out a control group, and a campaign
e-mail raises the recipient's chance of an order for a few days (more after
an open, much more after a click): the orders it brings go through the shop
like any other, and the true effect per campaign is written to the truth.
The simulation continues 365 days past the as-of date; what happens there is
only written to the truth files.

People are simulated in chunks (numpy, vectorised) so memory is bounded by
the chunk size, not the world size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from mailroom.generator import names as N
from mailroom.generator import text as T

CANCEL_RATE = 0.03
REFUND_RATE = 0.04
COMPLETED_RATE = 1.0 - CANCEL_RATE - REFUND_RATE
TRUTH_HORIZON_DAYS = 365
COUNTRY_CODES = np.array(list(N.COUNTRIES))
COUNTRY_SHARES = np.array([v[0] for v in N.COUNTRIES.values()])


@dataclass(frozen=True)
class WorldConfig:
    people: int = 50_000
    seed: int = 42
    as_of: dt.date = dt.date(2026, 9, 30)
    history_days: int = 730
    chunk_size: int = 25_000
    # Share of rows of each table that get a planted defect (quarantine test bed).
    defect_rate: float = 0.002
    # Share of event deliveries that arrive twice.
    duplicate_rate: float = 0.01
    campaigns_per_month: float = 2.0
    # Broadcast campaigns hold out this share of the recipients they would have
    # sent: the control group gets no e-mail; the ESP records a `holdout` event.
    campaign_holdout_share: float = 0.1
    # The causal effect of a campaign e-mail on orders: the chance of an extra
    # order by the recipient's deepest human engagement with it (delivered only,
    # opened, clicked), placed a truncated-exponential delay (mean, at most)
    # after that moment, while the recipient is alive.
    email_order_probability_delivered: float = 0.004
    email_order_probability_opened: float = 0.03
    email_order_probability_clicked: float = 0.15
    email_order_delay_mean_days: float = 1.0
    email_order_delay_max_days: float = 5.0
    # The conversion window the truth's campaign effects are computed for (the
    # dbt var campaign_attribution_days).
    campaign_truth_window_days: float = 5.0

    @property
    def start(self) -> np.datetime64:
        return (
            np.datetime64(self.as_of, "s")
            + np.timedelta64(1, "D")
            - np.timedelta64(self.history_days, "D")
        )

    @property
    def as_of_day(self) -> float:
        """The end of the as-of date, in days since `start` (history is [0, as_of_day))."""
        return float(self.history_days)


@dataclass
class Catalogue:
    product_id: np.ndarray
    name: np.ndarray
    category: np.ndarray  # category index
    brand: np.ndarray  # brand index
    price_eur: np.ndarray
    consumable: np.ndarray
    categories: list[str]
    brands: list[str]
    by_category: list[np.ndarray] = field(default_factory=list)  # product rows, cheapest first
    by_brand: list[np.ndarray] = field(default_factory=list)


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    categories = list(N.CATEGORIES)
    brands = sorted({b for v in N.CATEGORIES.values() for b in v[0]})
    rows = []
    for ci, (cat, (cat_brands, median, consumable)) in enumerate(N.CATEGORIES.items()):
        for brand in cat_brands:
            for noun in N.PRODUCT_NOUNS[cat]:
                for edition in ("", " Plus") if rng.random() < 0.5 else ("",):
                    price = round(float(median * rng.lognormal(0.0, 0.45)), 2) + 0.0
                    price = max(2.0, np.floor(price) + 0.99)
                    rows.append(
                        (f"{brand} {noun}{edition}", ci, brands.index(brand), price, consumable)
                    )
    n = len(rows)
    order = rng.permutation(n)
    rows = [rows[i] for i in order]
    cat = Catalogue(
        product_id=np.array([f"SKU-{10000 + i}" for i in range(n)]),
        name=np.array([r[0] for r in rows]),
        category=np.array([r[1] for r in rows]),
        brand=np.array([r[2] for r in rows]),
        price_eur=np.array([r[3] for r in rows]),
        consumable=np.array([r[4] for r in rows]),
        categories=categories,
        brands=brands,
    )
    for ci in range(len(categories)):
        idx = np.flatnonzero(cat.category == ci)
        cat.by_category.append(idx[np.argsort(cat.price_eur[idx])])
    for bi in range(len(brands)):
        cat.by_brand.append(np.flatnonzero(cat.brand == bi))
    return cat


@dataclass
class Campaign:
    campaign_id: str
    name: str
    kind: str
    subject: str
    day: float  # send start, days since world start
    has_variants: bool
    reach: float
    holdout_share: float = 0.0  # share of would-be recipients held out (control group)


def build_campaigns(cfg: WorldConfig, rng: np.random.Generator) -> list[Campaign]:
    themes = [
        "New In",
        "Weekend Sale",
        "Style Edit",
        "Last Chance",
        "Members' Picks",
        "Seasonal Drop",
    ]
    n = int(cfg.history_days / 30.4 * cfg.campaigns_per_month)
    days = np.sort(rng.uniform(1.0, cfg.as_of_day - 0.5, n))
    out = [
        Campaign(
            "CMP-0000", "Welcome series", "triggered", "Welcome! Here's 10% off", 0.0, False, 1.0
        )  # a triggered flow: no control group
    ]
    for i, d in enumerate(days, start=1):
        theme = themes[int(rng.integers(len(themes)))]
        kind = "newsletter" if rng.random() < 0.3 else "promotional"
        out.append(
            Campaign(
                campaign_id=f"CMP-{i:04d}",
                name=f"{theme} {i:03d}",
                kind=kind,
                subject=f"{theme}: picked for you",
                day=float(d),
                has_variants=bool(rng.random() < 0.35),
                reach=float(rng.uniform(0.35, 0.7)),
                holdout_share=cfg.campaign_holdout_share,
            )
        )
    return out


# --------------------------------------------------------------------------- people


@dataclass
class People:
    """Per-person latent state and identity for one chunk (arrays of length n)."""

    gidx: np.ndarray
    pid: np.ndarray
    country: np.ndarray
    tz: np.ndarray
    currency: np.ndarray
    phone_cc: np.ndarray
    first: np.ndarray
    last: np.ndarray
    birth: np.ndarray  # datetime64[D]
    street: np.ndarray
    postcode: np.ndarray
    city: np.ndarray
    email: np.ndarray
    email2: np.ndarray  # None when the person has no second address
    is_gmail: np.ndarray
    phone: np.ndarray  # national significant number or None
    household: np.ndarray
    join: np.ndarray
    lam: np.ndarray
    mu: np.ndarray
    alive_end: np.ndarray
    cat_cum: np.ndarray  # cumulative category preference (n, K)
    fav_brand: np.ndarray
    price_sens: np.ndarray
    open_base: np.ndarray
    click_base: np.ndarray
    pressure: np.ndarray
    pref_hour: np.ndarray
    mpp: np.ndarray
    n_devices: np.ndarray


def _pick(
    rng: np.random.Generator, vocab: tuple[str, ...], m: int, zipf_a: float | None = None
) -> np.ndarray:
    """m draws from a vocabulary; with zipf_a, half the draws favour its first entries (common names)."""
    idx = rng.integers(0, len(vocab), m)
    if zipf_a is not None:
        common = np.minimum(rng.zipf(zipf_a, m) - 1, len(vocab) - 1)
        idx = np.where(rng.random(m) < 0.5, common, idx)
    return np.array(vocab, dtype=object)[idx]


def _postcodes(country: str, rng: np.random.Generator, m: int) -> np.ndarray:
    if country == "GB":
        letters = np.array(list("ABCDEFGHJKLMNPRSTUWYZ"), dtype=object)
        li = rng.integers(0, len(letters), (4, m))
        d1, d2 = rng.integers(1, 20, m), rng.integers(1, 10, m)
        parts = zip(
            letters[li[0]], letters[li[1]], d1, d2, letters[li[2]], letters[li[3]], strict=True
        )
        return np.array([f"{a}{b}{x} {y}{c}{d}" for a, b, x, y, c, d in parts], dtype=object)
    if country == "NL":
        letters = np.array(list("ABCDEFGHJKLMNPRSTVWXZ"), dtype=object)
        li = rng.integers(0, len(letters), (2, m))
        parts = zip(rng.integers(1000, 9999, m), letters[li[0]], letters[li[1]], strict=True)
        return np.array([f"{d} {a}{b}" for d, a, b in parts], dtype=object)
    return np.array([f"{d:05d}" for d in rng.integers(1000, 99999, m)], dtype=object)


def make_people(
    cfg: WorldConfig, rng: np.random.Generator, start_idx: int, n: int, n_cat: int, n_brand: int
) -> People:
    H = cfg.as_of_day
    gidx = np.arange(start_idx, start_idx + n)
    country = rng.choice(COUNTRY_CODES, size=n, p=COUNTRY_SHARES / COUNTRY_SHARES.sum()).astype(
        object
    )
    tz, currency, phone_cc, first, last, street, postcode, city = (
        np.empty(n, dtype=object) for _ in range(8)
    )
    for c, (_, tzs, cur, cc) in N.COUNTRIES.items():
        idx = np.flatnonzero(country == c)
        m = len(idx)
        if not m:
            continue
        tz[idx] = _pick(rng, tzs, m)
        currency[idx] = cur
        phone_cc[idx] = cc
        first[idx] = _pick(rng, N.FIRST_NAMES[c], m, zipf_a=1.6)
        last[idx] = _pick(rng, N.LAST_NAMES[c], m, zipf_a=1.5)
        names = _pick(rng, N.STREETS[c], m)
        numbers = rng.integers(1, 240, m)
        if c in ("GB", "US", "FR"):
            street[idx] = [f"{x} {nm}" for x, nm in zip(numbers, names, strict=True)]
        else:
            street[idx] = [f"{nm} {x}" for x, nm in zip(numbers, names, strict=True)]
        postcode[idx] = _postcodes(c, rng, m)
        city[idx] = _pick(rng, N.CITIES[c], m)
    birth = np.datetime64(cfg.as_of, "D") - rng.integers(18 * 365, 80 * 365, n).astype(
        "timedelta64[D]"
    )

    # Households: a few people share last name, address and the landline.
    household = gidx.copy()
    phone_nat = rng.integers(10**9, 10**10 - 1, n).astype(str).astype(object)
    phone = np.where(rng.random(n) < 0.72, phone_nat, None)
    for i in np.flatnonzero(rng.random(n) < 0.05):
        if i == 0:
            continue
        j = i - 1
        household[i] = household[j]
        for arr in (last, street, postcode, city, country, tz, currency, phone_cc):
            arr[i] = arr[j]
        phone[i] = phone[j] if phone[j] is not None else phone_nat[j]
        phone[j] = phone[i]

    domain = np.empty(n, dtype=object)
    for c, doms in N.EMAIL_DOMAINS.items():
        idx = np.flatnonzero(country == c)
        weights = np.array([w for _, w in doms])
        choice = rng.choice(len(doms), size=len(idx), p=weights / weights.sum())
        domain[idx] = np.array([d for d, _ in doms], dtype=object)[choice]
    is_gmail = domain == "gmail.com"
    patterns = rng.integers(0, 4, n)
    # Random digits (not derived from the person) keep addresses unique without
    # leaking the truth: a person's two addresses share no number.
    suffix = rng.integers(10, 1_000_000, n)
    suffix2 = rng.integers(10, 1_000_000, n)
    people = zip(first, last, patterns, suffix, domain, strict=True)
    email = np.array(
        [f"{T.email_local(f, ln, int(pt), int(g))}@{d}" for f, ln, pt, g, d in people], dtype=object
    )
    work = np.array(N.WORK_DOMAINS, dtype=object)[rng.integers(0, len(N.WORK_DOMAINS), n)]
    has2 = rng.random(n) < 0.3
    people = zip(first, last, patterns, suffix2, work, has2, strict=True)
    email2 = np.array(
        [
            f"{T.email_local(f, ln, (int(pt) + 1) % 4, int(g))}@{w}" if h else None
            for f, ln, pt, g, w, h in people
        ],
        dtype=object,
    )

    # Latent purchasing (Pareto/NBD): rate ~ Gamma, lifetime ~ Exp(mu), mu ~ Gamma.
    join = H * np.sqrt(rng.random(n))  # growing customer base
    lam = rng.gamma(0.75, 0.011, n)  # purchases per day while alive (mean ~3/yr)
    mu = rng.gamma(1.2, 1 / 600, n)  # dropout hazard per day (mean lifetime ~500 days)
    alive_end = join + rng.exponential(1.0 / mu)
    pref = rng.dirichlet(np.full(n_cat, 0.35), n)
    engaged = np.log(lam / 0.008)  # e-mail engagement correlates with purchasing
    open_base = 1 / (1 + np.exp(-(-1.1 + 0.55 * engaged + rng.normal(0, 0.8, n))))
    click_base = 1 / (1 + np.exp(-(-2.0 + 0.5 * engaged + rng.normal(0, 0.6, n))))
    hours = np.concatenate(
        [rng.normal(8, 1.2, n // 3 + 1), rng.normal(12.5, 1.0, n // 3 + 1), rng.normal(20, 1.5, n)]
    )
    pref_hour = np.mod(np.round(rng.permutation(hours)[:n]), 24).astype(int)
    return People(
        gidx=gidx,
        pid=np.array([f"TP{x:08d}" for x in gidx]),
        country=country,
        tz=tz,
        currency=currency,
        phone_cc=phone_cc,
        first=first,
        last=last,
        birth=birth,
        street=street,
        postcode=postcode,
        city=city,
        email=email,
        email2=email2,
        is_gmail=is_gmail,
        phone=phone,
        household=household,
        join=join,
        lam=lam,
        mu=mu,
        alive_end=alive_end,
        cat_cum=np.cumsum(pref, axis=1),
        fav_brand=rng.integers(0, n_brand, n),
        price_sens=rng.beta(2, 3, n),
        open_base=open_base,
        click_base=click_base,
        pressure=rng.uniform(0.3, 1.0, n),
        pref_hour=pref_hour,
        mpp=rng.random(n) < 0.12,
        n_devices=rng.choice([1, 2, 3], size=n, p=[0.68, 0.26, 0.06]),
    )
