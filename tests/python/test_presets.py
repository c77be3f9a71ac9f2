"""Load presets: a Shopify orders export, Mailchimp audience exports, a Klaviyo profile export
and a bare transaction log into the raw contract in one command each, recognised from the
header; and (slow) from `mailroom load --preset` through `mailroom build --as-of` to scores."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from conftest import RUNNER, load
from exports import (
    KLAVIYO_HEADER,
    SHOPIFY_HEADER,
    mailchimp_header,
    shopify_rows,
    write_csv,
    write_shop_world,
)
from transaction_log import write_transaction_log
from typer.testing import Result

from mailroom import loader
from mailroom.presets import PRESETS, load_preset

FILLED = ("shop_orders", "shop_order_items", "shop_products", "shop_customers")
CONSENT = "privacy_consent_events"


def said(result: Result) -> str:
    return " ".join(result.output.split())


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def rejections(db: Path, table: str) -> list[tuple]:
    return query(
        db,
        "select file_name, row_number, reason from raw.load_rejections "
        f"where target_table = '{table}' order by row_number nulls last",
    )


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def reconciles(report: loader.LoadReport) -> None:
    for f in report.files:
        assert f.rows_read == f.rows_loaded + f.rows_rejected, (f.table, f)


# --------------------------------------------------------------------------- list


def test_list_presets_says_what_each_reads_and_fills():
    result = load("--list-presets")
    assert result.exit_code == 0, result.output
    assert list(PRESETS) == [
        "shopify_orders",
        "mailchimp_members",
        "klaviyo_profiles",
        "transaction_log",
    ]
    text = said(result)
    for preset in PRESETS.values():
        assert f"{preset.name} reads: {preset.reads} fills: {', '.join(preset.fills)}" in text
    assert "fills: shop_orders, shop_order_items, shop_products, shop_customers, " in text
    assert "fills: crm_contacts, esp_subscribers, privacy_consent_events" in text
    assert "--preset NAME" in text


# --------------------------------------------------------------------------- shopify


def shopify_export(path: Path) -> Path:
    """Five orders and a stray line: blank order-level cells on later line rows, a padded
    upper-case e-mail, a refunded, a cancelled (voided), a partially refunded guest order in
    another offset, and an order whose time does not read."""
    address = {
        "Billing Name": "Ana Silva",
        "Billing Country": "US",
        "Shipping Name": "Ana Silva",
        "Shipping Address1": "1 Main St",
        "Shipping Address2": "Apt 2",
        "Shipping City": "Boston",
        "Shipping Zip": "'02134",
        "Shipping Province": "MA",
        "Shipping Country": "US",
    }
    rows = [
        *shopify_rows(
            {
                "Name": "#1001",
                "Email": "  ANA@Example.COM ",
                "Financial Status": "paid",
                "Accepts Marketing": "yes",
                "Currency": "USD",
                "Total": "55.00",
                "Discount Amount": "0.00",
                "Created at": "2024-05-17 09:12:33 -0400",
                "Id": "450789469",
                **address,
            },
            [
                {
                    "Lineitem quantity": 2,
                    "Lineitem name": "Blue Mug",
                    "Lineitem price": "20.00",
                    "Lineitem sku": "MUG-1",
                    "Vendor": "Acme",
                },
                {
                    "Lineitem quantity": 1,
                    "Lineitem name": "Tea Towel",
                    "Lineitem price": "10.00",
                    "Lineitem sku": "TT-1",
                    "Vendor": "Acme",
                },
            ],
        ),
        *shopify_rows(
            {
                "Name": "#1002",
                "Email": "bob@example.com",
                "Financial Status": "refunded",
                "Accepts Marketing": "no",
                "Currency": "USD",
                "Total": "30.00",
                "Refunded Amount": "30.00",
                "Created at": "2024-06-01 12:00:00 +0200",
                "Billing Name": "Bob Jones",
                "Shipping Country": "DE",
            },
            [
                {
                    "Lineitem quantity": 1,
                    "Lineitem name": "Blue Mug",
                    "Lineitem price": "30.00",
                    "Lineitem sku": "MUG-1",
                    "Vendor": "Acme",
                }
            ],
        ),
        *shopify_rows(
            {
                "Name": "#1003",
                "Email": "ana@example.com",
                "Financial Status": "voided",
                "Accepts Marketing": "yes",
                "Currency": "USD",
                "Total": "20.00",
                "Created at": "2024-07-01 08:00:00 +0000",
                "Cancelled at": "2024-07-02 10:00:00 +0000",
            },
            [
                {
                    "Lineitem quantity": 1,
                    "Lineitem name": "Tea Towel",
                    "Lineitem price": "20.00",
                    "Lineitem sku": "TT-1",
                }
            ],
        ),
        *shopify_rows(
            {
                "Name": "#1004",
                "Financial Status": "partially_refunded",
                "Currency": "EUR",
                "Total": "40.00",
                "Discount Amount": "5.00",
                "Refunded Amount": "10.00",
                "Created at": "2024-08-01 10:00:00 +0530",
                "Phone": "+44 20 7946 0958",
            },
            [{"Lineitem quantity": 2, "Lineitem name": "Green Bag", "Lineitem price": "20.00"}],
        ),
        *shopify_rows(
            {
                "Name": "#1005",
                "Email": "cleo@example.com",
                "Financial Status": "pending",
                "Accepts Marketing": "yes",
                "Total": "8.00",
                "Created at": "yesterday",
            },
            [
                {
                    "Lineitem quantity": 1,
                    "Lineitem name": "Honey",
                    "Lineitem price": "8.00",
                    "Lineitem sku": "HON-1",
                }
            ],
        ),
        {"Lineitem quantity": 1, "Lineitem name": "Stray line", "Lineitem price": "1.00"},
    ]
    return write_csv(path, SHOPIFY_HEADER, rows)


def test_shopify_orders_export_fills_orders_items_products_customers_and_consent(
    tmp_path: Path, db: Path
):
    export = shopify_export(tmp_path / "orders_export.csv")
    result = load(export)  # no --preset: recognised from the header
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "recognised orders_export.csv as Shopify admin orders export" in text
    assert "--preset shopify_orders" in text
    assert "5 orders (1 cancelled, 3 completed, 1 refunded) from 7 line rows" in text
    assert "1 partially refunded order: completed, total net of the refunded amount" in text
    assert "1 guest order (no e-mail)" in text
    assert "1 line row without an order Name: rejected" in text
    assert "unused columns (no place in the raw contract): Paid at," in text
    assert "Billing Company" in text and "Lineitem compare at price" in text

    ana = "shopify:" + md5("ana@example.com")[:16]
    orders = {
        r[0]: r[1:]
        for r in query(
            db,
            "select order_id, customer_id, order_at, currency, total_amount, discount_amount, "
            "item_count, status, updated_at, shipping_first_name, shipping_last_name, "
            "shipping_street, shipping_address_line_2, shipping_postcode, shipping_region, phone "
            "from raw.shop_orders",
        )
    }
    assert sorted(orders) == ["#1001", "#1002", "#1003", "#1004"]
    assert orders["#1001"] == (
        ana, "2024-05-17T13:12:33Z", "USD", "55.00", "0.00", "3", "completed", None,
        "Ana", "Silva", "1 Main St", "Apt 2", "02134", "MA", None,
    )  # fmt: skip
    assert orders["#1002"][6] == "refunded"
    assert orders["#1003"][0] == ana  # the same e-mail, lower case: the same customer
    assert orders["#1003"][6:8] == ("cancelled", "2024-07-02T10:00:00Z")
    assert orders["#1004"][:7] == (
        None,
        "2024-08-01T04:30:00Z",
        "EUR",
        "30",
        "5.00",
        "2",
        "completed",
    )
    assert orders["#1004"][-1] == "+44 20 7946 0958"  # a guest order keeps its phone
    assert rejections(db, "shop_orders") == [("orders_export.csv", 6, "bad_timestamp:order_at")]

    items = query(
        db,
        "select order_item_id, order_id, product_id, quantity, unit_price "
        "from raw.shop_order_items order by 1",
    )
    assert items[:3] == [
        ("#1001:1", "#1001", "MUG-1", "2", "20.00"),
        ("#1001:2", "#1001", "TT-1", "1", "10.00"),
        ("#1002:1", "#1002", "MUG-1", "1", "30.00"),
    ]
    assert ("#1004:1", "#1004", "name:" + md5("green bag")[:12], "2", "20.00") in items
    # one item per line row: 7 rows = 6 loaded + the stray line without an order
    assert len(items) == 6
    assert rejections(db, "shop_order_items") == [
        ("orders_export.csv", 7, "missing_required:order_item_id; missing_required:order_id")
    ]

    products = dict(
        (r[0], r[1:])
        for r in query(
            db, "select product_id, product_name, brand, price, currency from raw.shop_products"
        )
    )
    assert len(products) == 5  # the stray line's product too
    assert products["MUG-1"] == ("Blue Mug", "Acme", "30.00", "USD")  # from its latest order

    customers = query(
        db,
        "select customer_id, email, first_name, last_name, country, accepts_marketing, "
        "created_at, updated_at from raw.shop_customers order by email",
    )
    assert customers[0] == (
        ana, "ana@example.com", "Ana", "Silva", "US", "true",
        "2024-05-17T13:12:33Z", "2024-07-01T08:00:00Z",
    )  # fmt: skip
    assert [c[1] for c in customers] == ["ana@example.com", "bob@example.com", "cleo@example.com"]
    assert customers[1][5] == "false"
    # Cleo's order time did not read: her order is rejected, her account keeps NULL times
    assert customers[2][6:] == (None, None)
    assert query(db, "select column_name, raw_value from raw.load_value_issues order by 1") == [
        ("created_at", "yesterday"),
        ("updated_at", "yesterday"),
    ]

    consents = query(
        db,
        "select consent_event_id, email, customer_id, channel, purpose, status, event_at, "
        f"collected_by from raw.{CONSENT} order by 1",
    )
    # Accepts Marketing yes: a grant at the order; no is not a withdrawal
    assert consents == [
        ("shopify:#1001:email", "ana@example.com", ana, "email", "marketing", "granted",
         "2024-05-17T13:12:33Z", "checkout"),
        ("shopify:#1003:email", "ana@example.com", ana, "email", "marketing", "granted",
         "2024-07-01T08:00:00Z", "checkout"),
    ]  # fmt: skip
    assert rejections(db, CONSENT) == [("orders_export.csv", 6, "bad_timestamp:event_at")]

    # every table of the load: one transaction, one _loaded_at, the rejections' too
    stamps = query(
        db,
        " union ".join(f"select distinct _loaded_at from raw.{t}" for t in (*FILLED, CONSENT))
        + " union select distinct loaded_at from raw.load_rejections",
    )
    assert len(stamps) == 1


def test_shopify_report_reconciles_per_table(tmp_path: Path, db: Path):
    export = shopify_export(tmp_path / "orders.csv")
    report = load_preset("shopify_orders", [export])
    reconciles(report)
    assert report.tables == [*FILLED, CONSENT]
    assert [f.rows_read for f in report.files] == [5, 7, 5, 3, 3]
    assert report.rows_rejected == 3
    (source,) = report.sources
    assert source.rows_read == 7
    assert "Name" in source.used_columns and "Notes" in source.unused_columns
    # the summary names each table with its rows
    assert (
        "20 rows were appended to raw.shop_orders (4), raw.shop_order_items (6), "
        "raw.shop_products (5), raw.shop_customers (3), raw.privacy_consent_events (2)"
    ) in " ".join(report.lines())


# --------------------------------------------------------------------------- mailchimp


def mailchimp_exports(root: Path) -> list[Path]:
    """The three files of one audience, named so that only their columns tell them apart."""
    subscribed = write_csv(
        root / "members_a.csv",
        mailchimp_header("subscribed"),
        [
            {"Email Address": "Zoe@Example.com ", "First Name": "Zoe", "MEMBER_RATING": "4",
             "OPTIN_TIME": "2024-01-02 10:00:00", "CONFIRM_TIME": "2024-01-02 10:05:00",
             "LAST_CHANGED": "2024-01-02 10:05:00", "LEID": "11", "EUID": "e11"},
            # imported, never opted in through a form: no opt-in time
            {"Email Address": "yan@example.com", "MEMBER_RATING": "2", "LEID": "12"},
            {"Email Address": "", "First Name": "Nobody", "MEMBER_RATING": "1"},
        ],
    )  # fmt: skip
    unsubscribed = write_csv(
        root / "members_b.csv",
        mailchimp_header("unsubscribed"),
        [
            {"Email Address": "uma@example.com", "First Name": "Uma",
             "OPTIN_TIME": "2024-01-05 09:00:00", "LAST_CHANGED": "2024-03-04 05:06:07",
             "UNSUB_TIME": "2024-03-04 05:06:07", "UNSUB_REASON": "NORMAL"},
        ],
    )  # fmt: skip
    cleaned = write_csv(
        root / "members_c.csv",
        mailchimp_header("cleaned"),
        [
            {"Email Address": "cal@example.com", "OPTIN_TIME": "2023-11-11 11:11:11",
             "CLEAN_TIME": "2024-02-01 00:00:00"},
        ],
    )  # fmt: skip
    return [subscribed, unsubscribed, cleaned]


def test_mailchimp_members_subscribers_and_consent(tmp_path: Path, db: Path):
    files = mailchimp_exports(tmp_path)
    result = load(*files, "--preset", "mailchimp_members")
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "Mailchimp subscribed members export (no UNSUB_TIME or CLEAN_TIME column)" in text
    assert "Mailchimp unsubscribed members export (it has UNSUB_TIME)" in text
    assert "Mailchimp cleaned members export (it has CLEAN_TIME)" in text

    members = query(
        db,
        "select subscriber_id, email, first_name, status, created_at, updated_at "
        "from raw.esp_subscribers order by lower(email)",
    )
    assert members == [
        (md5("cal@example.com"), "cal@example.com", None, "cleaned", "2023-11-11T11:11:11Z",
         "2024-02-01T00:00:00Z"),
        (md5("uma@example.com"), "uma@example.com", "Uma", "unsubscribed", "2024-01-05T09:00:00Z",
         "2024-03-04T05:06:07Z"),
        (md5("yan@example.com"), "yan@example.com", None, "subscribed", None, None),
        (md5("zoe@example.com"), "Zoe@Example.com", "Zoe", "subscribed", "2024-01-02T10:05:00Z",
         "2024-01-02T10:05:00Z"),
    ]  # fmt: skip
    assert rejections(db, "esp_subscribers") == [
        ("members_a.csv", 3, "missing_required:subscriber_id; missing_required:email")
    ]
    consents = query(
        db,
        f"select email, channel, purpose, status, event_at, collected_by from raw.{CONSENT} "
        "order by email, event_at",
    )
    # an unsubscribed member is withdrawn from UNSUB_TIME on; a cleaned one keeps its
    # opt-in (its status cleaned is what makes it bounced)
    assert consents == [
        ("cal@example.com", "email", "marketing", "granted", "2023-11-11T11:11:11Z", "esp"),
        ("uma@example.com", "email", "marketing", "granted", "2024-01-05T09:00:00Z", "esp"),
        ("uma@example.com", "email", "marketing", "withdrawn", "2024-03-04T05:06:07Z", "esp"),
        ("zoe@example.com", "email", "marketing", "granted", "2024-01-02T10:05:00Z", "esp"),
    ]
    assert query(db, f"select count(distinct consent_event_id) from raw.{CONSENT}") == [(4,)]


def test_mailchimp_file_kind_from_its_name_when_columns_do_not_say(tmp_path: Path, db: Path):
    header = mailchimp_header("subscribed")  # no CLEAN_TIME column
    cleaned = write_csv(
        tmp_path / "cleaned_members_export_abc.csv", header, [{"Email Address": "x@example.com"}]
    )
    report = load_preset("mailchimp_members", [cleaned])
    assert report.sources[0].layout == "Mailchimp cleaned members export (its name)"
    assert query(db, "select status from raw.esp_subscribers") == [("cleaned",)]


# --------------------------------------------------------------------------- klaviyo


def test_klaviyo_profiles_contacts_members_and_consent(tmp_path: Path, db: Path):
    base = {"Profile Created On": "2024-01-01 08:00:00"}
    profiles = [
        {**base, "Email": "pia@example.com", "Klaviyo ID": "01HK1", "First Name": "Pia",
         "Phone Number": "+1 415 555 0100", "Address": "5 Market St", "Address 2": "Unit 5",
         "City": "San Francisco", "State / Region": "CA", "Zip Code": "94110",
         "Country": "United States", "Email Marketing Consent": "SUBSCRIBED",
         "Email Marketing Consent Timestamp": "2024-02-03T04:05:06.000Z",
         "SMS Marketing Consent": "SUBSCRIBED", "SMS Consent Timestamp": "2024-02-04T00:00:00Z"},
        {**base, "Email": "ray@example.com", "Klaviyo ID": "01HK2",
         "Email Marketing Consent": "UNSUBSCRIBED",
         "Email Marketing Consent Timestamp": "2024-03-01T00:00:00Z"},
        {**base, "Email": "sam@example.com", "Klaviyo ID": "01HK3",
         "Email Marketing Consent": "NEVER_SUBSCRIBED"},
        {**base, "Email": "tia@example.com", "Klaviyo ID": "01HK4",
         "Email Marketing Consent": "SUBSCRIBED", "Email Suppressions": "HARD_BOUNCE",
         "Email Marketing Consent Timestamp": "2024-01-10T00:00:00Z"},
        {**base, "Email": "ugo@example.com", "Email Marketing Consent": "SUBSCRIBED",
         "Email Suppressions": "SPAM_COMPLAINT"},
        {**base, "Klaviyo ID": "01HK6", "Phone Number": "+1 415 555 0199",
         "SMS Marketing Consent": "SUBSCRIBED"},
    ]  # fmt: skip
    export = write_csv(tmp_path / "profiles.csv", KLAVIYO_HEADER, profiles)
    result = load(export)
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "--preset klaviyo_profiles" in text
    assert "1 profile without an e-mail: contact only" in text
    assert "unused columns (no place in the raw contract): Organization, Title," in text

    ugo = "klaviyo:" + md5("ugo@example.com")[:16]
    contacts = query(
        db,
        "select contact_id, email, street, address_line_2, city, region, postcode, created_at "
        "from raw.crm_contacts order by contact_id",
    )
    assert len(contacts) == 6  # every profile is a contact
    assert contacts[0] == (
        "01HK1", "pia@example.com", "5 Market St", "Unit 5", "San Francisco", "CA", "94110",
        "2024-01-01T08:00:00Z",
    )  # fmt: skip
    assert ugo in {c[0] for c in contacts}
    members = query(db, "select subscriber_id, status from raw.esp_subscribers order by 1")
    # never subscribed: no list member; a bounce suppression is cleaned, a complaint unsubscribed
    assert members == [
        ("01HK1", "subscribed"),
        ("01HK2", "unsubscribed"),
        ("01HK4", "cleaned"),
        (ugo, "unsubscribed"),
    ]
    consents = query(
        db,
        f"select email, channel, status, event_at from raw.{CONSENT} order by email, channel",
    )
    assert consents[:4] == [
        ("pia@example.com", "email", "granted", "2024-02-03T04:05:06Z"),
        ("pia@example.com", "sms", "granted", "2024-02-04T00:00:00Z"),
        ("ray@example.com", "email", "withdrawn", "2024-03-01T00:00:00Z"),
        ("tia@example.com", "email", "granted", "2024-01-10T00:00:00Z"),
    ]
    assert consents[4] == ("ugo@example.com", "email", "withdrawn", "2024-01-01T08:00:00Z")
    assert len(consents) == 5  # no event for the profile without an e-mail


def test_klaviyo_header_variants_with_the_preset(tmp_path: Path, db: Path):
    export = write_csv(
        tmp_path / "people.csv",
        ("Profile ID", "Email", "First Name", "Phone", "State", "Postal Code", "Email Consent",
         "Created"),
        [{"Profile ID": "p1", "Email": "vic@example.com", "Phone": "+49 30 1234567",
          "State": "BE", "Postal Code": "10115", "Email Consent": "subscribed",
          "Created": "2024-05-05T05:05:05Z"}],
    )  # fmt: skip
    result = load(export)  # too few Klaviyo names to recognise it ...
    assert result.exit_code == 2 and "cannot tell which export" in result.output
    result = load(export, "--preset", "klaviyo_profiles")  # ... but it reads as one
    assert result.exit_code == 0, result.output
    assert query(db, "select contact_id, phone, region, postcode from raw.crm_contacts") == [
        ("p1", "+49 30 1234567", "BE", "10115")
    ]
    assert query(db, "select status, created_at from raw.esp_subscribers") == [
        ("subscribed", "2024-05-05T05:05:05Z")
    ]


# --------------------------------------------------------------------------- transaction log


def test_transaction_log_one_order_per_row(tmp_path: Path, db: Path):
    log = write_transaction_log(tmp_path / "tx.csv", customers=40, days=60)
    result = load(tmp_path / "tx.csv")
    assert result.exit_code == 0, result.output
    text = said(result)
    assert "--preset transaction_log" in text
    assert "dates read as %Y%m%d" in text
    assert f"loaded {log['rows']:,}, rejected 0" in text
    first = query(
        db, "select order_id, customer_id, order_at, total_amount, item_count from raw.shop_orders "
        "where order_id = 'tx.csv:1'"
    )[0]  # fmt: skip
    line = (tmp_path / "tx.csv").read_text().splitlines()[1].split(",")
    day = dt.datetime.strptime(line[1], "%Y%m%d").date()
    assert first == ("tx.csv:1", line[0], f"{day}T00:00:00Z", line[2], line[3])


def test_transaction_log_invoices_unit_prices_and_a_missing_customer(tmp_path: Path, db: Path):
    retail = tmp_path / "retail.csv"
    retail.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,WHITE HANGING HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
        "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,,United Kingdom\n"
        "536366,22633,HAND WARMER UNION JACK,6,12/1/2010 8:28,1.85,,United Kingdom\n"
        "536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,12/13/2010 8:34,1.69,13047,United Kingdom\n"
        "536368,22960,JAM MAKING SET,six,12/13/2010 8:34,4.25,13047,United Kingdom\n"
        ",22222,GIFT WRAP,1,12/14/2010 9:00,5.00,13047,United Kingdom\n"
    )
    report = load_preset("transaction_log", [retail], loader.LoadOptions(currency="GBP"))
    reconciles(report)
    notes = " ".join(report.sources[0].notes)
    assert "dates read as %m/%d/%Y %H:%M" in notes
    assert "amount = UnitPrice x Quantity" in notes
    assert "6 rows summed into 5 orders by InvoiceNo" in notes  # a blank number: its own
    assert report.sources[0].unused_columns == ["StockCode", "Description", "Country"]
    assert query(
        db,
        "select order_id, customer_id, order_at, currency, total_amount, item_count "
        "from raw.shop_orders order by 1",
    ) == [
        ("536365", "17850", "2010-12-01T08:26:00Z", "GBP", "35.64", "12"),
        ("536367", "13047", "2010-12-13T08:34:00Z", "GBP", "54.08", "32"),
        ("retail.csv:6", "13047", "2010-12-14T09:00:00Z", "GBP", "5", "1"),
    ]
    assert rejections(db, "shop_orders") == [
        ("retail.csv", 3, "missing_required:customer_id"),
        ("retail.csv", 5, "bad_decimal:total_amount"),
    ]


def test_transaction_log_german_header_decimal_comma(tmp_path: Path, db: Path):
    umsatz = tmp_path / "umsatz.csv"
    umsatz.write_text(
        "Kundennummer;Datum;Betrag;Menge\n"
        "K1;05.01.2025;12,50;1\n"
        "K2;06.01.2025;1.234,50;2\n"
        ";07.01.2025;3,00;1\n"
        "K1;31.02.2025;4,00;1,5\n"
    )
    result = load(umsatz, "--decimal-comma", "--currency", "EUR")
    assert result.exit_code == 0, result.output
    assert "dates read as %d.%m.%Y" in said(result)
    assert query(
        db, "select order_id, customer_id, order_at, currency, total_amount from raw.shop_orders"
    ) == [
        ("umsatz.csv:1", "K1", "2025-01-05T00:00:00Z", "EUR", "12.50"),
        ("umsatz.csv:2", "K2", "2025-01-06T00:00:00Z", "EUR", "1234.50"),
    ]
    assert rejections(db, "shop_orders") == [
        ("umsatz.csv", 3, "missing_required:customer_id"),
        ("umsatz.csv", 4, "bad_timestamp:order_at"),
    ]
    (raw_row,) = query(db, "select raw_row from raw.load_rejections where row_number = 3")[0]
    assert json.loads(raw_row)["total_amount"] == "3,00"  # the preset's row, as it was shaped


# --------------------------------------------------------------------------- errors


def test_an_unrecognised_header_names_the_presets_and_the_table_form(tmp_path: Path, db: Path):
    odd = tmp_path / "odd.csv"
    odd.write_text("alpha,beta,gamma\n1,2,3\n")
    result = load(odd)
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: cannot tell which export {odd} is from its header")
    for name in PRESETS:
        assert name in line
    assert "mailroom load TABLE FILE" in line
    assert not db.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{shop}", "{mc}"],
            "error: the files look like different exports (orders.csv: shopify_orders, "
            "members_a.csv: mailchimp_members); load them apart",
        ),
        (
            ["shop_orders", "{shop}", "--preset", "shopify_orders"],
            "error: --preset takes files only (the preset decides the tables): drop "
            "'shop_orders', or load into shop_orders without --preset",
        ),
        (
            ["{shop}", "--preset", "shopify_orders", "--map", "order_at=Created at"],
            "error: --map and --mapping do not apply to a preset",
        ),
        (
            ["{shop}", "--preset", "shopify_orders", "--replace"],
            "error: --replace does not apply to a preset (shopify_orders): it fills several "
            "tables; empty one with mailroom load TABLE FILE --replace",
        ),
        (
            ["{shop}", "--preset", "shopify"],
            "error: unknown preset 'shopify'; presets: shopify_orders, mailchimp_members, "
            "klaviyo_profiles, transaction_log",
        ),
        (
            ["{mc}", "--preset", "shopify_orders"],
            "error: {tmp}/members_a.csv does not read as shopify_orders: it lacks Name, "
            "Created at, Total (file columns: ",
        ),
        (
            ["{mc}", "{tmp}/nope.csv", "--preset", "mailchimp_members"],
            "error: file not found: {tmp}/nope.csv",
        ),
    ],
)
def test_preset_hard_errors_exit_2_and_write_nothing(
    tmp_path: Path, db: Path, args: list[str], message: str
):
    shopify_export(tmp_path / "orders.csv")
    mailchimp_exports(tmp_path)
    paths = {"shop": tmp_path / "orders.csv", "mc": tmp_path / "members_a.csv", "tmp": tmp_path}
    result = load(*(a.format(**paths) for a in args))
    expected = message.format(**paths)
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(expected) if expected.endswith(": ") else line == expected
    assert not db.exists()


def test_dry_run_and_the_table_form_are_unchanged(tmp_path: Path, db: Path):
    result = load(
        shopify_export(tmp_path / "orders.csv"), "--preset", "shopify_orders", "--dry-run"
    )
    assert result.exit_code == 0 and "dry run: nothing was written" in result.output
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,order_date,amount\nc1,20240105,1\n")
    result = load(
        "shop_orders", tx, "--map", "order_at=order_date", "--map", "total_amount=amount",
        "--date-format", "%Y%m%d",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recognised" not in result.output
    assert "columns: customer_id <- customer_id, order_at <- order_date" in result.output
    assert "rows read 1, loaded 1, rejected 0" in result.output
    # only the table form's row: the dry run wrote nothing
    assert query(db, "select order_id, order_at from raw.shop_orders") == [
        ("tx.csv:1", "2024-01-05T00:00:00Z")
    ]
    assert query(db, "select count(*) from raw.shop_order_items") == [(0,)]


# --------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_presets_reach_scores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A shop's Shopify orders, Mailchimp audience and Klaviyo profiles of overlapping people,
    loaded with presets, built once as of the last day: persons, features, segments, scores
    and customer value, and the unsubscribed and cleaned members are not contactable."""
    from mailroom import runner as mailroom_runner
    from mailroom.cli import app

    world = write_shop_world(tmp_path / "exports", customers=400)
    warehouse = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    mailchimp = world["mailchimp"]
    for args in (
        [world["shopify"], "--preset", "shopify_orders"],
        [mailchimp["subscribed"], mailchimp["unsubscribed"], mailchimp["cleaned"],
         "--preset", "mailchimp_members"],
        [world["klaviyo"], "--preset", "klaviyo_profiles"],
    ):  # fmt: skip
        result = RUNNER.invoke(app, ["load", *map(str, args)])
        assert result.exit_code == 0, result.output
        assert " 0 rejected (load_id" in said(result)
    assert query(warehouse, "select count(*) from raw.shop_orders") == [(world["orders"],)]

    as_of = world["last_day"].isoformat()
    result = RUNNER.invoke(app, ["build", "--as-of", as_of])
    mailroom_runner.release_warehouse()
    assert result.exit_code == 0, result.output[-4000:]
    assert f"vars: as_of_date={as_of}" in said(result)

    (persons, features, members, scored, valued, synced) = query(
        warehouse,
        "select (select count(*) from marts.dim_customers), "
        "(select count(*) from intermediate.int_customers__features), "
        "(select count(*) from marts.fct_segment_memberships), "
        "(select count(distinct person_id) from marts.fct_propensity_scores), "
        "(select count(*) from marts.fct_customer_value where expected_orders > 0), "
        "(select count(*) from marts.sync_esp__profiles)",
    )[0]
    # one person per e-mail at most (guest orders may add some), merged across the platforms
    assert len(world["buyer_emails"]) * 0.9 <= persons
    assert features > 0 and members > 0 and scored > 0 and valued > 0 and synced > 0
    assert query(
        warehouse,
        "select count(*) from marts.fct_orders where person_id is not null",
    ) == [(world["orders"],)]

    contactability = dict(
        query(
            warehouse,
            "select lower(email), email_contactability from marts.dim_customers "
            "where email is not null",
        )
    )
    synced_emails = {
        e for (e,) in query(warehouse, "select lower(email) from marts.sync_esp__profiles")
    }
    unsubscribed, cleaned = world["unsubscribed"], world["cleaned"]
    assert unsubscribed and cleaned
    assert {contactability.get(e) for e in unsubscribed} == {"unsubscribed"}
    assert {contactability.get(e) for e in cleaned} == {"bounced"}
    assert not (unsubscribed | cleaned) & synced_emails
    # a subscribed member nobody suppressed is contactable and synced
    assert any(contactability.get(e) == "contactable" for e in world["subscribed"])
    assert synced_emails <= {e for e, c in contactability.items() if c == "contactable"}
