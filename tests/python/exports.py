"""Platform exports as retailers download them, written for the tests: a Shopify admin orders
export, Mailchimp audience exports (subscribed, unsubscribed, cleaned) and a Klaviyo profile
export, in the column layouts the platforms document.

`write_csv` writes rows (dicts) under a header, leaving absent columns empty;
`shopify_rows` turns an order and its lines into export rows (order-level fields on the
first row only, as Shopify writes them); `write_shop_world` writes the three platforms'
exports of one deterministic shop: overlapping people over a year.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
from transaction_log import purchases

SHOPIFY_HEADER = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Billing Name",
    "Billing Street",
    "Billing Address1",
    "Billing Address2",
    "Billing Company",
    "Billing City",
    "Billing Zip",
    "Billing Province",
    "Billing Country",
    "Billing Phone",
    "Shipping Name",
    "Shipping Street",
    "Shipping Address1",
    "Shipping Address2",
    "Shipping Company",
    "Shipping City",
    "Shipping Zip",
    "Shipping Province",
    "Shipping Country",
    "Shipping Phone",
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    "Phone",
)
# what Shopify repeats on every line row of an order; everything else is on the first row only
SHOPIFY_LINE_FIELDS = (
    "Name",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Lineitem discount",
    "Vendor",
)

MAILCHIMP_HEADER = (
    "Email Address",
    "First Name",
    "Last Name",
    "Address",
    "Phone Number",
    "Birthday",
    "MEMBER_RATING",
    "OPTIN_TIME",
    "OPTIN_IP",
    "CONFIRM_TIME",
    "CONFIRM_IP",
    "LATITUDE",
    "LONGITUDE",
    "GMTOFF",
    "DSTOFF",
    "TIMEZONE",
    "CC",
    "REGION",
    "LAST_CHANGED",
    "LEID",
    "EUID",
    "NOTES",
    "TAGS",
)
MAILCHIMP_UNSUBSCRIBED = (
    "UNSUB_TIME",
    "UNSUB_CAMPAIGN_TITLE",
    "UNSUB_CAMPAIGN_ID",
    "UNSUB_REASON",
    "UNSUB_REASON_OTHER",
)
MAILCHIMP_CLEANED = ("CLEAN_TIME", "CLEAN_CAMPAIGN_TITLE", "CLEAN_CAMPAIGN_ID")


def mailchimp_header(kind: str) -> tuple[str, ...]:
    """The columns of Mailchimp's subscribed, unsubscribed or cleaned members export."""
    extra = {"subscribed": (), "unsubscribed": MAILCHIMP_UNSUBSCRIBED, "cleaned": MAILCHIMP_CLEANED}
    head, tail = MAILCHIMP_HEADER[:19], MAILCHIMP_HEADER[19:]  # extras come before LEID
    return (*head, *extra[kind], *tail)


KLAVIYO_HEADER = (
    "Email",
    "Klaviyo ID",
    "First Name",
    "Last Name",
    "Organization",
    "Title",
    "Phone Number",
    "Address",
    "Address 2",
    "City",
    "State / Region",
    "Country",
    "Zip Code",
    "Latitude",
    "Longitude",
    "Source",
    "IP Address",
    "Email Marketing Consent",
    "Email Marketing Consent Timestamp",
    "SMS Marketing Consent",
    "SMS Consent Timestamp",
    "Email Suppressions",
    "First Active",
    "Last Active",
    "Profile Created On",
    "Date Added",
    "Last Open",
    "Last Click",
)


def write_csv(path: Path, header: tuple[str, ...], rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, restval="", extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)
    return path


def shopify_rows(order: dict[str, object], lines: list[dict[str, object]]) -> list[dict]:
    """An order's export rows: the first carries the order's fields, the others only the
    order Name and their line's fields."""
    rows = []
    for n, line in enumerate(lines):
        row = {**order, **line} if n == 0 else {"Name": order["Name"], **line}
        rows.append({k: v for k, v in row.items() if n == 0 or k in SHOPIFY_LINE_FIELDS})
    return rows


def shopify_time(moment: dt.datetime, offset_hours: int = -4) -> str:
    """`2024-05-17 09:12:33 -0400`: local time with its offset, as Shopify writes it."""
    local = moment + dt.timedelta(hours=offset_hours)
    sign = "-" if offset_hours < 0 else "+"
    return f"{local:%Y-%m-%d %H:%M:%S} {sign}{abs(offset_hours):02d}00"


PRODUCTS = [
    (f"SKU-{k:03d}", name, vendor, price)
    for k, (name, vendor, price) in enumerate(
        [
            ("Blue Mug", "Acme", 18.0),
            ("Tea Towel", "Acme", 9.5),
            ("Green Tea 250g", "Leafy", 12.0),
            ("Black Tea 500g", "Leafy", 21.0),
            ("Linen Apron", "Weave", 34.0),
            ("Teapot", "Acme", 45.0),
            ("Honey Jar", "Bees", 8.0),
            ("Cookie Tin", "Bees", 15.0),
            ("Coffee Beans 1kg", "Roast", 28.0),
            ("Espresso Cups (2)", "Acme", 22.0),
        ],
        start=1,
    )
]
FIRST = ["Ana", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon", "Kai", "Lea"]
LAST = ["Silva", "Meyer", "Okafor", "Novak", "Rossi", "Larsen", "Kim", "Dubois", "Haas", "Ortiz"]
# Real-looking mailbox providers: identity resolution refuses reserved test domains
# (example.com and the like, RFC 2606), as it should for a real shop's data.
DOMAINS = ["posteo.de", "gmx.net", "outlook.com", "web.de", "icloud.com"]


def person(i: int) -> dict[str, str]:
    """Customer `i`'s name and e-mail (unique per i)."""
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    email = f"{first}.{last}{i}@{DOMAINS[i % len(DOMAINS)]}".lower()
    return {"first": first, "last": f"{last}{i}", "email": email}


def write_shop_world(
    root: Path,
    customers: int = 400,
    start: dt.date = dt.date(2025, 1, 1),
    days: int = 365,
    seed: int = 11,
) -> dict[str, object]:
    """One shop's exports over `days` from `start`: Shopify orders (about a tenth of them
    guest checkouts, some refunded or cancelled), Mailchimp subscribed, unsubscribed and
    cleaned members, and Klaviyo profiles of overlapping people (plus a few prospects who
    never bought). Returns the paths and the facts the tests check."""
    rng = np.random.default_rng(seed + 1)
    bought = purchases(customers, start, days, seed)
    rows, guests, statuses = [], 0, {"completed": 0, "refunded": 0, "cancelled": 0}
    last_day = start
    for n, (i, day, amount, quantity) in enumerate(sorted(bought, key=lambda b: (b[1], b[0]))):
        p = person(i)
        moment = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(minutes=int(rng.integers(600)))
        guest = rng.random() < 0.08
        roll = rng.random()
        status = "refunded" if roll < 0.04 else "cancelled" if roll < 0.07 else "completed"
        statuses[status] += 1
        guests += guest
        picks = rng.choice(len(PRODUCTS), size=min(quantity, 3), replace=False)
        lines = []
        for k, pick in enumerate(picks):
            sku, name, vendor, price = PRODUCTS[int(pick)]
            lines.append(
                {
                    "Lineitem quantity": 1 + (k == 0) * (quantity - len(picks)),
                    "Lineitem name": name,
                    "Lineitem price": f"{price:.2f}",
                    "Lineitem sku": sku,
                    "Lineitem requires shipping": "true",
                    "Lineitem taxable": "true",
                    "Vendor": vendor,
                }
            )
        email = p["email"]
        if i % 7 == 0:
            email = f"  {email.upper()} "  # padded, upper case: still one customer
        order = {
            "Name": f"#{1001 + n}",
            "Email": "" if guest else email,
            "Financial Status": {"completed": "paid", "refunded": "refunded"}.get(status, "voided"),
            "Accepts Marketing": "yes" if i % 3 else "no",
            "Currency": "EUR",
            "Total": f"{amount:.2f}",
            "Discount Amount": "0.00",
            "Created at": shopify_time(moment, offset_hours=-4 if i % 2 else 2),
            "Cancelled at": shopify_time(moment + dt.timedelta(days=1))
            if status == "cancelled"
            else "",
            "Refunded Amount": f"{amount:.2f}" if status == "refunded" else "",
            "Billing Name": f"{p['first']} {p['last']}",
            "Billing Country": "DE",
            "Shipping Name": f"{p['first']} {p['last']}" if not guest else f"Guest Buyer{n}",
            "Shipping Address1": f"{i} Lindenstrasse" if not guest else f"{n} Gaststrasse",
            "Shipping City": "Berlin",
            "Shipping Zip": f"'{10115 + i % 80}",
            "Shipping Country": "DE",
            "Id": str(5_000_000 + n),
        }
        rows.extend(shopify_rows(order, lines))
        last_day = max(last_day, day)
    shopify = write_csv(root / "orders_export.csv", SHOPIFY_HEADER, rows)

    buyers = sorted({i for i, *_ in bought})
    prospects = list(range(customers, customers + customers // 10))  # signed up, never bought
    members = {"subscribed": [], "unsubscribed": [], "cleaned": []}
    for i in [*buyers, *prospects]:
        roll = rng.random()
        if roll < 0.45:
            kind = "subscribed"
        elif roll < 0.55:
            kind = "unsubscribed"
        elif roll < 0.58:
            kind = "cleaned"
        else:
            continue
        p = person(i)
        joined = dt.datetime.combine(start, dt.time(8)) + dt.timedelta(
            days=int(rng.integers(days // 2)), minutes=int(rng.integers(600))
        )
        left = joined + dt.timedelta(days=int(rng.integers(1, days // 2)))
        row = {
            "Email Address": p["email"],
            "First Name": p["first"],
            "Last Name": p["last"],
            "MEMBER_RATING": "2",
            "OPTIN_TIME": f"{joined:%Y-%m-%d %H:%M:%S}",
            "CONFIRM_TIME": f"{joined + dt.timedelta(minutes=3):%Y-%m-%d %H:%M:%S}",
            "LAST_CHANGED": f"{(left if kind != 'subscribed' else joined):%Y-%m-%d %H:%M:%S}",
            "LEID": str(100_000 + i),
            "EUID": f"e{i:07x}",
        }
        if kind == "unsubscribed":
            row |= {"UNSUB_TIME": f"{left:%Y-%m-%d %H:%M:%S}", "UNSUB_REASON": "NORMAL"}
        if kind == "cleaned":
            row |= {"CLEAN_TIME": f"{left:%Y-%m-%d %H:%M:%S}"}
        members[kind].append(row)
    mailchimp = {
        kind: write_csv(root / f"{kind}_members_export.csv", mailchimp_header(kind), members[kind])
        for kind in members
    }

    profiles = []
    for i in [*buyers, *prospects]:
        if rng.random() >= 0.4:
            continue
        p = person(i)
        created = dt.datetime.combine(start, dt.time(7)) + dt.timedelta(
            days=int(rng.integers(days))
        )
        consent = rng.choice(["SUBSCRIBED", "NEVER_SUBSCRIBED", "UNSUBSCRIBED"], p=[0.6, 0.3, 0.1])
        profiles.append(
            {
                "Email": p["email"],
                "Klaviyo ID": f"01HK{i:022d}",
                "First Name": p["first"],
                "Last Name": p["last"],
                "Phone Number": f"+4930{1000000 + i}",
                "Address": f"{i} Lindenstrasse",
                "City": "Berlin",
                "State / Region": "BE",
                "Country": "Germany",
                "Zip Code": str(10115 + i % 80),
                "Email Marketing Consent": consent,
                "Email Marketing Consent Timestamp": (
                    f"{created:%Y-%m-%dT%H:%M:%S}.000Z" if consent != "NEVER_SUBSCRIBED" else ""
                ),
                "Profile Created On": f"{created:%Y-%m-%d %H:%M:%S}",
            }
        )
    klaviyo = write_csv(root / "klaviyo_profiles.csv", KLAVIYO_HEADER, profiles)
    return {
        "shopify": shopify,
        "mailchimp": mailchimp,
        "klaviyo": klaviyo,
        "last_day": last_day,
        "orders": len(bought),
        "guest_orders": guests,
        "statuses": statuses,
        "buyer_emails": {person(i)["email"] for i in buyers},
        "unsubscribed": {m["Email Address"] for m in members["unsubscribed"]},
        "cleaned": {m["Email Address"] for m in members["cleaned"]},
        "subscribed": {m["Email Address"] for m in members["subscribed"]},
    }
