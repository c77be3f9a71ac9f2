"""Load presets: the exports users have, into the raw contract in one command.

`mailroom load FILE... --preset NAME` (or `load_preset()` from Python) reads a
platform's export as the platform writes it and fills every raw table the export
has something for. `mailroom load FILE...` without `--preset` recognises the
layout from the header and says which preset it used; `--list-presets` lists them.

How a preset works
------------------
A preset reads each file as the loader does (CSV delimiter sniffed, `--encoding`,
CSV or Parquet), shapes it with DuckDB SQL in a private in-memory database into
contract-shaped rows (one set per raw table), and hands those to the loader
(`mailroom.loader.load_shaped`). Everything `mailroom load TABLE FILE` does then
applies unchanged: values are canonicalised with the load's options (`--timezone`,
`--date-format`, `--decimal-comma`, `--currency`, ...), a row whose required value
is missing or unreadable is rejected into `raw.load_rejections` with its reason,
an unreadable optional value lands NULL and is kept in `raw.load_value_issues`,
and CSV lines with the wrong number of fields are rejected as `malformed_row`.
Rejections and value issues point at the export's own row numbers (an order's
row is the first line row of the order). Every table a preset fills lands in one
transaction with one `_loaded_at`; a hard error writes nothing. `--map`,
`--mapping` and `--replace` do not apply (a preset fills several tables).

The report says, per file, which layout was read, the rows read, the columns
used and the columns left unused (no place in the raw contract), what the preset
decided (guest orders, statuses, ...), and then per raw table the rows loaded and
rejected with reasons. Rows of one file reconcile per table: rows shaped = rows
loaded + rows rejected.

Presets and their mapping decisions
-----------------------------------
`shopify_orders`: the Shopify admin orders export (`Name`, `Email`, `Financial
Status`, `Created at`, `Total`, `Lineitem ...`, `Billing ...`, `Shipping ...`,
`Accepts Marketing`, `Cancelled at`, `Refunded Amount`, ...), one row per line
item; order-level fields are often only on an order's first row.

- `shop_orders`: one row per `Name` (the order number, e.g. `#1001`, is
  `order_id`); each order-level field is taken from the order's first row that
  has it. `order_at` = `Created at` (`2024-05-17 09:12:33 -0400` reads with its
  offset); `total_amount` = `Total`; `discount_amount` = `Discount Amount`;
  `item_count` = the sum of the lines' `Lineitem quantity`. Status: `Cancelled
  at` set, or `Financial Status` `voided` or `expired` -> `cancelled` (updated_at
  = `Cancelled at`); `refunded` -> `refunded`; `paid`, `partially_paid`,
  `pending`, `authorized` -> `completed`; `partially_refunded` -> `completed`
  with `total_amount` = `Total` - `Refunded Amount` (the customer kept part of the
  order: it is a purchase, worth what was kept); any other value is kept as
  written and staging quarantines it (`unknown_status`). Ship-to fields from
  `Shipping Name` (split at the first space), `Shipping Address1` (else `Shipping
  Street`), `Shipping Address2`, `Shipping Zip` (Shopify's leading `'` removed),
  `Shipping City`, `Shipping Province`, `Shipping Country`; `phone` = `Phone`,
  else `Shipping Phone`, else `Billing Phone`.
- `shop_customers`: the export has no customer id, so a customer is an e-mail:
  `customer_id` = `shopify:` + the first 16 hex digits of MD5(lower-case e-mail),
  the same for the same address in every export; `email` lower-case;
  names from `Billing Name` (else `Shipping Name`), `phone`, `country` (`Billing
  Country`, else `Shipping Country`) and `accepts_marketing` from the customer's
  latest order; `created_at` / `updated_at` = their first / latest order's
  `Created at`. Orders without an e-mail are guest orders (no `customer_id`):
  staging makes each one a person of its own unless identity links it by phone
  or name and address.
- `shop_order_items`: one per line row; `order_item_id` = `Name:<line number in
  the order>`; `product_id` = `Lineitem sku`, else `name:` + 12 hex digits of
  MD5(lower-case `Lineitem name`); `quantity`, `unit_price` = `Lineitem price`.
- `shop_products`: one per `product_id`, from its line in the latest order:
  `product_name` = `Lineitem name`, `brand` = `Vendor`, `price` = `Lineitem
  price`, `currency` = the order's. (`Lineitem compare at price` is a reference
  price, not used.)
- `privacy_consent_events`: one `granted` e-mail marketing consent per order
  with an e-mail whose `Accepts Marketing` is yes, at its `Created at`
  (`collected_by` checkout). A "no" is not a withdrawal: not ticking the box at
  checkout does not unsubscribe anyone (Shopify keeps an earlier opt-in), so it
  writes nothing.

`mailchimp_members`: Mailchimp audience exports, the subscribed, unsubscribed and
cleaned files (give them together: `mailroom load subscribed.csv
unsubscribed.csv cleaned.csv --preset mailchimp_members`). Which file is which
comes from its columns (`UNSUB_TIME` -> unsubscribed, `CLEAN_TIME` -> cleaned),
else from its name (`unsub...`, `clean...`), else subscribed.

- `esp_subscribers`: one per member; `subscriber_id` = MD5 of the lower-case
  address (the member id Mailchimp's API uses, the same in every file and
  export); `status` from the file; `created_at` = `CONFIRM_TIME`, else
  `OPTIN_TIME`; `updated_at` = `LAST_CHANGED`, else `UNSUB_TIME` / `CLEAN_TIME`.
  A member who moved between exports keeps one id, and the newer version wins.
  Times without an offset are read in `--timezone` (Mailchimp writes UTC).
- `privacy_consent_events` (`collected_by` esp): a `granted` e-mail marketing
  consent at `CONFIRM_TIME` / `OPTIN_TIME` when the file has one, and for the
  unsubscribed file a `withdrawn` one at `UNSUB_TIME` (else `LAST_CHANGED`, else
  the load's time). The contactability model makes an unsubscribed member
  `unsubscribed` (their ESP status and the withdrawal) and a cleaned member
  `bounced` (status `cleaned`, what the model reads as the ESP's hard bounce);
  no bounce event is invented in `esp_email_events`, which holds real message
  events only.

`klaviyo_profiles`: a Klaviyo profile export (list or segment): `Email`, `Phone
Number`, `First Name`, `Last Name`, `Address`, `Address 2`, `City`, `State /
Region`, `Zip Code`, `Country`, `Klaviyo ID`, `Profile Created On` / `Created`,
`Email Marketing Consent` (`SUBSCRIBED`, `UNSUBSCRIBED`, `NEVER_SUBSCRIBED`),
its `... Timestamp`, `SMS Marketing Consent` / `SMS Consent`, `Email
Suppressions`; common variants of these names are accepted, and the older
`Consent` column (a list of channels) too.

- `crm_contacts`: every profile, the person's contact record (the only raw table
  with an address and a birth date): `contact_id` = `Klaviyo ID`, else
  `klaviyo:` + 16 hex digits of MD5(lower-case e-mail, else phone).
- `esp_subscribers`: profiles with an e-mail and a list state: a bounce or
  invalid-address suppression -> `cleaned`; any other suppression (unsubscribe,
  spam complaint, manual) -> `unsubscribed`; else the e-mail consent:
  subscribed -> `subscribed`, unsubscribed -> `unsubscribed`; never subscribed
  -> no member row (a profile Klaviyo knows, not a list member). `created_at` =
  `Date Added`, else the profile's creation; `signup_source` = `Source`.
- `privacy_consent_events` (`collected_by` esp): the e-mail consent (`granted`,
  or `withdrawn` for an unsubscribe or a non-bounce suppression) and the SMS
  consent (channel sms), at the consent's timestamp, else the profile's update
  or creation time, else the load's time. A profile without an e-mail gets no
  consent event (a consent names a person by e-mail or shop account).

`transaction_log`: one row per sale with a customer id, a date and an amount,
under common header spellings (compared ignoring case, spaces and
punctuation): customer `customer_id`, `CustomerID`, `Customer ID`, `customer`,
`client`, `Kundennummer`, ...; date `date`, `order_date`, `InvoiceDate`,
`Datum`, ...; amount `amount`, `total`, `revenue`, `Sales`, `Betrag`, ...;
else unit price (`price`, `UnitPrice`) x `quantity` (1 without a quantity);
quantity `quantity`, `qty`, `Menge`, ...; optional invoice or order number
(`InvoiceNo`, `order_id`, `receipt`, ...) and `currency`.

- `shop_orders` only (no products, no customer file: every customer id is a
  person). With an invoice or order number column, the rows of one number are
  one order (`order_id` = the number): amounts and quantities summed, the first
  row's customer, date and currency; an invoice without any customer id is
  rejected. Without one (or for a row whose number is blank), every row is an
  order, `order_id` = `<file name>:<row number>` (as `mailroom load shop_orders`
  synthesises it), and a row without a customer id is rejected
  (`missing_required:customer_id`): a sale nobody can be attributed to is no
  one's history. Dates: `--date-format` / `--timestamp-format` when given, else
  the first of ISO, `YYYYMMDD`, `DD.MM.YYYY`, `MM/DD/YYYY`, `DD/MM/YYYY`, ...
  (with or without a time) that reads the most values of the first file (month
  first wins a tie: every day <= 12); the report names it. Amounts honour
  `--decimal-comma`. Negative totals (returns) are loaded as written; staging
  quarantines them (`negative_amount`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from mailroom.contract import load_contract, name_key
from mailroom.loader import (
    CSV_EXTENSIONS,
    PARQUET_EXTENSIONS,
    REASON_COLUMN,
    ROW_COLUMN,
    LoadError,
    LoadOptions,
    LoadReport,
    Shaped,
    SourceReport,
    decimal_sql,
    load_shaped,
    read_as_text,
    read_header,
    set_timezone,
)


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


SHOPIFY_TIMESTAMP = "%Y-%m-%d %H:%M:%S %z"  # 2024-05-17 09:12:33 -0400
ROW = ident(ROW_COLUMN)
NULL = "cast(null as varchar)"


# --------------------------------------------------------------------------- files


@dataclass
class _File:
    """One export file read into the preset's database, and what the preset used of it."""

    path: Path
    table: str  # its table in the preset's in-memory database
    names: list[str]
    malformed: list[tuple[str, int, int]]
    report: SourceReport

    def find(self, *spellings: str) -> str | None:
        """The file column spelled like the first of `spellings` found (case, spaces and
        punctuation ignored), marked as used; None if none is in the file."""
        name = _find(self.names, spellings)
        if name is not None and name not in self.report.used_columns:
            self.report.used_columns.append(name)
        return name

    def col(self, *spellings: str) -> str:
        """SQL for the column spelled like one of `spellings`, NULL when the file lacks it."""
        name = self.find(*spellings)
        return ident(name) if name is not None else NULL

    def has(self, *spellings: str) -> bool:
        return _find(self.names, spellings) is not None


def _find(names: Sequence[str], spellings: Sequence[str]) -> str | None:
    keys = {}
    for n in names:
        keys.setdefault(name_key(n), n)
    for s in spellings:
        if name_key(s) in keys:
            return keys[name_key(s)]
    return None


@dataclass
class _Context:
    con: duckdb.DuckDBPyConnection
    files: list[_File]
    options: LoadOptions
    loaded_at: dt.datetime

    @property
    def loaded_at_text(self) -> str:
        """The load's `_loaded_at` as a canonical timestamp (for events without a time)."""
        return self.loaded_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    def shaped(self, table: str, file: _File, sql: str, first: bool = False) -> Shaped:
        """Run `sql` (contract columns + `r`, the file's row number) into Shaped rows.

        `first`: this table gets the file's malformed CSV lines.
        """
        data = self.con.sql(
            f"select * exclude (r), cast(r as bigint) as {ROW} from ({sql}) order by r"
        ).to_arrow_table()
        return Shaped(table, file.path, data, list(file.malformed) if first else [])

    def count(self, sql: str) -> int:
        return int(self.con.execute(f"select count(*) from ({sql})").fetchall()[0][0])


# --------------------------------------------------------------------------- SQL helpers


def _key_id(prefix: str, expr: str, digits: int = 16) -> str:
    """A stable id from a lower-cased value: `prefix` + leading hex digits of its MD5."""
    return (
        f"case when {expr} is not null then {lit(prefix)} || left(md5(lower({expr})), {digits}) end"
    )


def _first_word(expr: str) -> str:
    return f"nullif(split_part({expr}, ' ', 1), '')"


def _rest_words(expr: str) -> str:
    return f"nullif(trim(substr({expr}, length(split_part({expr}, ' ', 1)) + 1)), '')"


def _timestamp(expr: str, formats: Sequence[str] = ()) -> str:
    """A timestamptz from text, to order rows by time (the loader canonicalises the text)."""
    parts = [f"try_strptime({expr}, {lit(f)})" for f in formats]
    parts.append(f"try_cast({expr} as timestamptz)")
    return f"coalesce({', '.join(parts)})"


def _n(count: int, thing: str, things: str | None = None) -> str:
    """`1 guest order`, `3 guest orders`."""
    return f"{count:,} {thing if count == 1 else things or thing + 's'}"


def _number_text(expr: str) -> str:
    """A number as plain decimal text without trailing zeros (`12.5`, `3`)."""
    return f"rtrim(rtrim(cast(cast({expr} as decimal(38, 6)) as varchar), '0'), '.')"


def _yes(expr: str) -> str:
    return f"lower({expr}) in ('yes', 'y', 'true', 't', '1', 'on')"


# --------------------------------------------------------------------------- shopify


def _shape_shopify(ctx: _Context) -> list[Shaped]:
    out: list[Shaped] = []
    ts = [SHOPIFY_TIMESTAMP, *(ctx.options.timestamp_formats or ())]
    for f in ctx.files:
        c = f.col
        lines, orders = f"{f.table}_lines", f"{f.table}_orders"
        ctx.con.execute(f"""
            create table {lines} as
            select
                {ROW} as r,
                {c("Name", "Order Name", "Order")} as order_name,
                {c("Email", "Customer Email")} as email,
                lower(replace({c("Financial Status")}, ' ', '_')) as financial_status,
                {c("Created at", "Created")} as created_at,
                {c("Cancelled at")} as cancelled_at,
                {c("Accepts Marketing", "Accepts Email Marketing")} as accepts_marketing,
                {c("Currency")} as currency,
                {c("Total")} as total,
                {c("Refunded Amount")} as refunded_amount,
                {c("Discount Amount")} as discount_amount,
                coalesce({c("Phone")}, {c("Shipping Phone")}, {c("Billing Phone")}) as phone,
                {c("Shipping Name")} as shipping_name,
                coalesce({c("Shipping Address1", "Shipping Address 1")},
                    {c("Shipping Street")}) as shipping_street,
                {c("Shipping Address2", "Shipping Address 2")} as shipping_address_2,
                nullif(ltrim({c("Shipping Zip", "Shipping Postal Code")}, ''''), '')
                    as shipping_zip,
                {c("Shipping City")} as shipping_city,
                {c("Shipping Province", "Shipping Province Name")} as shipping_province,
                {c("Shipping Country")} as shipping_country,
                {c("Billing Name")} as billing_name,
                {c("Billing Country")} as billing_country,
                {c("Lineitem quantity")} as quantity,
                {c("Lineitem name")} as item_name,
                {c("Lineitem price")} as item_price,
                {c("Lineitem sku")} as sku,
                {c("Vendor", "Lineitem vendor")} as vendor
            from {ident(f.table)}
        """)

        def first(col: str) -> str:
            return f"arg_min({col}, r) filter (where {col} is not null)"

        ctx.con.execute(f"""
            create table {orders} as
            with grouped as (
                select
                    order_name,
                    min(r) as r,
                    {first("email")} as email,
                    {first("financial_status")} as financial_status,
                    {first("created_at")} as created_at,
                    {first("cancelled_at")} as cancelled_at,
                    {first("accepts_marketing")} as accepts_marketing,
                    {first("currency")} as currency,
                    {first("total")} as total,
                    {first("refunded_amount")} as refunded_amount,
                    {first("discount_amount")} as discount_amount,
                    {first("phone")} as phone,
                    {first("shipping_name")} as shipping_name,
                    {first("shipping_street")} as shipping_street,
                    {first("shipping_address_2")} as shipping_address_2,
                    {first("shipping_zip")} as shipping_zip,
                    {first("shipping_city")} as shipping_city,
                    {first("shipping_province")} as shipping_province,
                    {first("shipping_country")} as shipping_country,
                    {first("billing_name")} as billing_name,
                    {first("billing_country")} as billing_country,
                    case when count(quantity) = count(try_cast(quantity as bigint))
                        then sum(try_cast(quantity as bigint)) end as units
                from {lines}
                where order_name is not null
                group by order_name
            )
            select
                *,
                {_timestamp("created_at", ts)} as created_ts,
                {_key_id("shopify:", "email")} as customer_id,
                case
                    when cancelled_at is not null or financial_status in ('voided', 'expired')
                        then 'cancelled'
                    when financial_status = 'refunded' then 'refunded'
                    when financial_status is null or financial_status in (
                        'paid', 'partially_paid', 'partially_refunded', 'pending', 'authorized'
                    ) then 'completed'
                    else financial_status
                end as status
            from grouped
        """)
        comma = ctx.options.decimal_comma
        total, refunded = decimal_sql("total", comma), decimal_sql("refunded_amount", comma)
        out.append(
            ctx.shaped(
                "shop_orders",
                f,
                f"""
                select
                    r,
                    order_name as order_id,
                    customer_id,
                    email,
                    phone,
                    created_at as order_at,
                    currency,
                    case
                        when financial_status = 'partially_refunded' and status = 'completed'
                            and {total} is not null and {refunded} > 0
                            then {_number_text(f"greatest({total} - {refunded}, 0)")}
                        else total
                    end as total_amount,
                    discount_amount,
                    cast(units as varchar) as item_count,
                    status,
                    {_first_word("shipping_name")} as shipping_first_name,
                    {_rest_words("shipping_name")} as shipping_last_name,
                    shipping_street,
                    shipping_address_2 as shipping_address_line_2,
                    shipping_zip as shipping_postcode,
                    shipping_city,
                    shipping_province as shipping_region,
                    shipping_country,
                    case when status = 'cancelled' then cancelled_at end as updated_at
                from {orders}
                """,
                first=True,
            )
        )
        out.append(
            ctx.shaped(
                "shop_order_items",
                f,
                f"""
                select
                    r,
                    order_name || ':' || row_number() over (
                        partition by order_name order by r
                    ) as order_item_id,
                    order_name as order_id,
                    coalesce(sku, {_key_id("name:", "item_name", 12)}) as product_id,
                    quantity,
                    item_price as unit_price
                from {lines}
                """,
            )
        )
        out.append(
            ctx.shaped(
                "shop_products",
                f,
                f"""
                with sold as (
                    select
                        lines.r,
                        coalesce(lines.sku, {_key_id("name:", "lines.item_name", 12)})
                            as product_id,
                        lines.item_name,
                        lines.vendor,
                        lines.item_price,
                        orders.currency,
                        (coalesce(orders.created_ts, '-infinity'::timestamptz), lines.r) as recency
                    from {lines} as lines
                    left join {orders} as orders
                        on lines.order_name = orders.order_name
                )
                select
                    min(r) as r,
                    product_id,
                    arg_max(item_name, recency) filter (where item_name is not null)
                        as product_name,
                    arg_max(vendor, recency) filter (where vendor is not null) as brand,
                    arg_max(item_price, recency) filter (where item_price is not null) as price,
                    arg_max(currency, recency) filter (where currency is not null) as currency
                from sold
                where product_id is not null
                group by product_id
                """,
            )
        )
        out.append(
            ctx.shaped(
                "shop_customers",
                f,
                f"""
                with bought as (
                    select
                        *,
                        coalesce(billing_name, shipping_name) as buyer_name,
                        coalesce(billing_country, shipping_country) as buyer_country,
                        (coalesce(created_ts, '-infinity'::timestamptz), r) as recency
                    from {orders}
                    where customer_id is not null
                ),
                customers as (
                    select
                        min(r) as r,
                        customer_id,
                        lower(arg_min(email, r)) as email,
                        arg_max(phone, recency) filter (where phone is not null) as phone,
                        arg_max(buyer_name, recency) filter (where buyer_name is not null)
                            as buyer_name,
                        arg_max(buyer_country, recency) filter (where buyer_country is not null)
                            as country,
                        arg_max(accepts_marketing, recency)
                            filter (where accepts_marketing is not null) as accepts_marketing,
                        arg_min(created_at, recency) filter (where created_at is not null)
                            as created_at,
                        arg_max(created_at, recency) filter (where created_at is not null)
                            as updated_at
                    from bought
                    group by customer_id
                )
                select
                    r,
                    customer_id,
                    email,
                    phone,
                    {_first_word("buyer_name")} as first_name,
                    {_rest_words("buyer_name")} as last_name,
                    country,
                    accepts_marketing,
                    created_at,
                    updated_at
                from customers
                """,
            )
        )
        out.append(
            ctx.shaped(
                "privacy_consent_events",
                f,
                f"""
                select
                    r,
                    'shopify:' || order_name || ':email' as consent_event_id,
                    lower(email) as email,
                    customer_id,
                    'email' as channel,
                    'marketing' as purpose,
                    'granted' as status,
                    created_at as event_at,
                    'checkout' as collected_by
                from {orders}
                where email is not null and {_yes("accepts_marketing")}
                """,
            )
        )
        counts = dict(
            ctx.con.execute(f"select status, count(*) from {orders} group by 1").fetchall()
        )
        guests = ctx.count(f"select 1 from {orders} where customer_id is null")
        partial = ctx.count(
            f"select 1 from {orders} "
            "where financial_status = 'partially_refunded' and status = 'completed'"
        )
        no_order = ctx.count(f"select 1 from {lines} where order_name is null")
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(counts.items()))
        f.report.notes.append(
            f"{_n(sum(counts.values()), 'order')} ({statuses or 'none'}) from "
            f"{_n(f.report.rows_read - len(f.malformed), 'line row')}"
        )
        if partial:
            f.report.notes.append(
                f"{_n(partial, 'partially refunded order')}: completed, total net of the "
                "refunded amount"
            )
        if guests:
            f.report.notes.append(
                f"{_n(guests, 'guest order')} (no e-mail): loaded without a customer; each is a "
                "person of its own unless identity links it"
            )
        if no_order:
            f.report.notes.append(
                f"{_n(no_order, 'line row')} without an order Name: rejected (no order to "
                "belong to)"
            )
    return out


# --------------------------------------------------------------------------- mailchimp


def _mailchimp_kind(f: _File) -> tuple[str, str]:
    """(status, why) of a Mailchimp export file: its columns decide, else its name."""
    if f.has("UNSUB_TIME"):
        return "unsubscribed", "it has UNSUB_TIME"
    if f.has("CLEAN_TIME"):
        return "cleaned", "it has CLEAN_TIME"
    name = f.path.name.lower()
    if "unsub" in name:
        return "unsubscribed", "its name"
    if "clean" in name:
        return "cleaned", "its name"
    return "subscribed", "no UNSUB_TIME or CLEAN_TIME column"


def _shape_mailchimp(ctx: _Context) -> list[Shaped]:
    out: list[Shaped] = []
    for f in ctx.files:
        status, why = _mailchimp_kind(f)
        f.report.layout = f"Mailchimp {status} members export ({why})"
        c = f.col
        status_time = {
            "unsubscribed": c("UNSUB_TIME"),
            "cleaned": c("CLEAN_TIME"),
            "subscribed": NULL,
        }[status]
        members = f"{f.table}_members"
        ctx.con.execute(f"""
            create table {members} as
            select
                {ROW} as r,
                md5(lower({c("Email Address", "Email")})) as subscriber_id,
                {c("Email Address", "Email")} as email,
                {c("First Name", "FNAME")} as first_name,
                {c("Last Name", "LNAME")} as last_name,
                coalesce({c("CONFIRM_TIME")}, {c("OPTIN_TIME")}) as joined_at,
                coalesce({c("LAST_CHANGED")}, {status_time}) as updated_at,
                {status_time} as status_at
            from {ident(f.table)}
        """)
        out.append(
            ctx.shaped(
                "esp_subscribers",
                f,
                f"""
                select
                    r,
                    subscriber_id,
                    email,
                    first_name,
                    last_name,
                    {lit(status)} as status,
                    joined_at as created_at,
                    updated_at
                from {members}
                """,
                first=True,
            )
        )
        withdrawn = ""
        if status == "unsubscribed":
            withdrawn = f"""
                union all
                select
                    r,
                    'mailchimp:' || subscriber_id || ':withdrawn:'
                        || coalesce(status_at, updated_at, {lit(ctx.loaded_at_text)}),
                    lower(email),
                    'withdrawn',
                    coalesce(status_at, updated_at, {lit(ctx.loaded_at_text)})
                from {members}
                where email is not null
            """
        out.append(
            ctx.shaped(
                "privacy_consent_events",
                f,
                f"""
                with events as (
                    select
                        r,
                        'mailchimp:' || subscriber_id || ':granted:' || joined_at as id,
                        lower(email) as email,
                        'granted' as status,
                        joined_at as event_at
                    from {members}
                    where email is not null and joined_at is not null
                    {withdrawn}
                )
                select
                    r,
                    id as consent_event_id,
                    email,
                    'email' as channel,
                    'marketing' as purpose,
                    status,
                    event_at,
                    'esp' as collected_by
                from events
                """,
            )
        )
        granted = ctx.count(
            f"select 1 from {members} where email is not null and joined_at is not null"
        )
        f.report.notes.append(
            f"members are {status}; {_n(granted, 'opt-in time')} become granted consents"
            + ("; every member gets a withdrawn consent at UNSUB_TIME" if withdrawn else "")
            + ("; status cleaned makes them bounced" if status == "cleaned" else "")
        )
    return out


# --------------------------------------------------------------------------- klaviyo

_SUBSCRIBED = ("subscribed", "subscribe", "true", "yes", "y", "1", "granted", "optedin", "optin")
_UNSUBSCRIBED = (
    "unsubscribed",
    "unsubscribe",
    "false",
    "no",
    "n",
    "0",
    "withdrawn",
    "optedout",
    "optout",
    "revoked",
)
_NO_SUPPRESSION = ("", "false", "no", "n", "0", "none", "null", "[]")


def _consent_word(expr: str) -> str:
    """'subscribed', 'unsubscribed' or NULL (never subscribed, unknown) from a consent value."""
    k = f"lower(regexp_replace({expr}, '[^A-Za-z0-9]', '', 'g'))"
    return (
        f"case when {k} in ({', '.join(map(lit, _SUBSCRIBED))}) then 'subscribed' "
        f"when {k} in ({', '.join(map(lit, _UNSUBSCRIBED))}) then 'unsubscribed' end"
    )


def _shape_klaviyo(ctx: _Context) -> list[Shaped]:
    out: list[Shaped] = []
    for f in ctx.files:
        c = f.col
        email_consent = f.find(
            "Email Marketing Consent",
            "Email Consent",
            "Email Marketing Status",
            "Email Subscription Status",
        )
        legacy = None if email_consent else f.find("Consent", "$consent")
        sms_consent = f.find("SMS Marketing Consent", "SMS Consent", "SMS Subscription Status")
        if email_consent:
            email_state = _consent_word(ident(email_consent))
        elif legacy:
            email_state = f"case when lower({ident(legacy)}) like '%email%' then 'subscribed' end"
        else:
            email_state = NULL
        if sms_consent:
            sms_state = _consent_word(ident(sms_consent))
        elif legacy:
            sms_state = f"case when lower({ident(legacy)}) like '%sms%' then 'subscribed' end"
        else:
            sms_state = NULL
        suppression = f"lower({c('Email Suppressions', 'Email Suppression', 'Suppressions', 'Suppression Reason', 'Suppressed')})"
        profiles = f"{f.table}_profiles"
        ctx.con.execute(f"""
            create table {profiles} as
            with profiles_read as (
                select
                    {ROW} as r,
                    {c("Klaviyo ID", "Profile ID", "Klaviyo Profile ID", "Id", "ID")} as profile_id,
                    {c("Email", "Email Address", "E-mail")} as email,
                    {c("Phone Number", "Phone", "SMS Phone Number")} as phone,
                    {c("First Name")} as first_name,
                    {c("Last Name")} as last_name,
                    {c("Address", "Address 1", "Address1", "Street Address")} as street,
                    {c("Address 2", "Address2", "Street Address 2")} as address_line_2,
                    {c("City")} as city,
                    {c("State / Region", "State", "Region", "Province")} as region,
                    {c("Zip Code", "Zip", "Postal Code", "Postcode")} as postcode,
                    {c("Country")} as country,
                    {c("Birthday", "Date of Birth", "Birth Date")} as birth_date,
                    {c("Profile Created On", "Created", "Created At", "Date Created")}
                        as created_at,
                    {c("Updated", "Updated At", "Last Updated", "Profile Updated On")}
                        as updated_at,
                    {c("Date Added", "Added At")} as added_at,
                    {c("Source", "Initial Source")} as source,
                    {email_state} as email_state,
                    {
            c(
                "Email Marketing Consent Timestamp",
                "Email Consent Timestamp",
                "Consent Timestamp",
                "$consent_timestamp",
            )
        } as email_consent_at,
                    {sms_state} as sms_state,
                    {c("SMS Marketing Consent Timestamp", "SMS Consent Timestamp")}
                        as sms_consent_at,
                    case
                        when {suppression} is null
                            or {suppression} in ({", ".join(map(lit, _NO_SUPPRESSION))})
                            then null
                        when {suppression} like '%bounce%' or {suppression} like '%invalid%'
                            then 'bounced'
                        else 'suppressed'
                    end as suppression
                from {ident(f.table)}
            )
            select
                *,
                coalesce(
                    profile_id,
                    {_key_id("klaviyo:", "email")},
                    {_key_id("klaviyo:", "phone")}
                ) as contact_id,
                case
                    when suppression = 'bounced' then 'cleaned'
                    when suppression = 'suppressed' then 'unsubscribed'
                    else email_state
                end as list_state
            from profiles_read
        """)
        out.append(
            ctx.shaped(
                "crm_contacts",
                f,
                f"""
                select
                    r, contact_id, email, phone, first_name, last_name, street,
                    address_line_2, city, region, postcode, country, birth_date,
                    created_at, updated_at
                from {profiles}
                """,
                first=True,
            )
        )
        out.append(
            ctx.shaped(
                "esp_subscribers",
                f,
                f"""
                select
                    r,
                    contact_id as subscriber_id,
                    email,
                    first_name,
                    last_name,
                    list_state as status,
                    lower(source) as signup_source,
                    coalesce(added_at, created_at, email_consent_at) as created_at,
                    coalesce(updated_at, email_consent_at, added_at, created_at) as updated_at
                from {profiles}
                where email is not null and list_state is not null
                """,
            )
        )
        now = lit(ctx.loaded_at_text)
        out.append(
            ctx.shaped(
                "privacy_consent_events",
                f,
                f"""
                with events as (
                    select
                        r, contact_id, email, 'email' as channel,
                        case
                            when suppression = 'suppressed' or email_state = 'unsubscribed'
                                then 'withdrawn'
                            when email_state = 'subscribed' then 'granted'
                        end as status,
                        coalesce(email_consent_at, updated_at, created_at, {now}) as event_at
                    from {profiles}
                    union all
                    select
                        r, contact_id, email, 'sms' as channel,
                        case sms_state
                            when 'subscribed' then 'granted'
                            when 'unsubscribed' then 'withdrawn'
                        end as status,
                        coalesce(sms_consent_at, updated_at, created_at, {now}) as event_at
                    from {profiles}
                )
                select
                    r,
                    'klaviyo:' || contact_id || ':' || channel || ':' || status || ':' || event_at
                        as consent_event_id,
                    lower(email) as email,
                    channel,
                    'marketing' as purpose,
                    status,
                    event_at,
                    'esp' as collected_by
                from events
                where email is not null and status is not null
                """,
            )
        )
        states = dict(
            ctx.con.execute(
                f"select coalesce(list_state, 'none'), count(*) from {profiles} "
                "where email is not null group by 1"
            ).fetchall()
        )
        no_email = ctx.count(f"select 1 from {profiles} where email is null")
        f.report.notes.append(
            "list members: "
            + ", ".join(
                f"{n:,} {s if s != 'none' else 'never subscribed (contact only)'}"
                for s, n in sorted(states.items())
            )
        )
        if no_email:
            f.report.notes.append(
                f"{_n(no_email, 'profile')} without an e-mail: contact only, no list member "
                "and no consent event"
            )
        if not (email_consent or legacy):
            f.report.notes.append("no e-mail consent column: no list states or consents")
    return out


# --------------------------------------------------------------------------- transaction log

_CUSTOMER = (
    "customer_id",
    "CustomerID",
    "Customer ID",
    "customer",
    "client",
    "client_id",
    "customer_number",
    "customer_no",
    "cust_id",
    "Kundennummer",
    "Kunden_ID",
    "Kunde",
    "user_id",
    "member_id",
    "buyer_id",
)
_DATE = (
    "order_date",
    "date",
    "InvoiceDate",
    "invoice_date",
    "transaction_date",
    "purchase_date",
    "sale_date",
    "order_at",
    "ordered_at",
    "Datum",
    "Kaufdatum",
    "created_at",
    "timestamp",
)
_AMOUNT = (
    "amount",
    "total",
    "total_amount",
    "order_total",
    "revenue",
    "sales",
    "sales_amount",
    "value",
    "line_total",
    "net_amount",
    "gross_amount",
    "Betrag",
    "Umsatz",
)
_PRICE = ("unit_price", "UnitPrice", "price", "item_price", "Preis", "Einzelpreis")
_QUANTITY = ("quantity", "qty", "units", "item_count", "items", "Menge", "Anzahl")
_INVOICE = (
    "InvoiceNo",
    "invoice",
    "invoice_no",
    "invoice_id",
    "invoice_number",
    "order_id",
    "order_number",
    "order_no",
    "transaction_id",
    "receipt",
    "receipt_id",
    "receipt_no",
    "Rechnungsnummer",
    "Belegnummer",
    "Bestellnummer",
)
_CURRENCY_COLUMN = ("currency", "Waehrung", "Währung")
_DATE_FORMATS = (  # tried in this order; the one reading the most values wins
    "%Y%m%d",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%y",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d-%m-%Y",
    "%m-%d-%Y",
)


def _date_formats(ctx: _Context, f: _File, column: str) -> LoadOptions:
    """The load options with the date format the values of `column` read best in."""
    options = ctx.options
    if options.date_formats or options.timestamp_formats:
        return options
    x = ident(column)
    counts = [f"count(coalesce(try_cast({x} as timestamptz), try_cast({x} as date)))"]
    counts += [f"count(try_strptime({x}, {lit(fmt)}))" for fmt in _DATE_FORMATS]
    read = ctx.con.execute(f"select {', '.join(counts)} from {ident(f.table)}").fetchall()[0]
    best = max(range(len(read)), key=lambda i: (read[i], -i))
    if best == 0 or read[best] == 0:
        return options
    fmt = _DATE_FORMATS[best - 1]
    f.report.notes.append(f"dates read as {fmt} (the format most {column} values read in)")
    if "%H" in fmt:
        return replace(options, timestamp_formats=(fmt,))
    return replace(options, date_formats=(fmt,))


def _shape_transaction_log(ctx: _Context) -> list[Shaped]:
    out: list[Shaped] = []
    comma = ctx.options.decimal_comma
    for f in ctx.files:
        customer = f.find(*_CUSTOMER)
        date = f.find(*_DATE)
        amount = f.find(*_AMOUNT)
        price = None if amount else f.find(*_PRICE)
        quantity = f.find(*_QUANTITY)
        invoice = f.find(*_INVOICE)
        currency = f.find(*_CURRENCY_COLUMN)
        if customer is None or date is None or (amount or price) is None:
            missing = [
                what
                for what, col in (
                    ("a customer id", customer),
                    ("a date", date),
                    ("an amount or a unit price", amount or price),
                )
                if col is None
            ]
            raise LoadError(
                f"{f.path} is not a transaction log: no column for {' and '.join(missing)} "
                f"(file columns: {', '.join(f.names)})"
            )
        ctx.options = _date_formats(ctx, f, date)
        q = ident(quantity) if quantity else NULL
        units = decimal_sql(q, comma)
        whole_units = f"case when {units} = trunc({units}) then cast({units} as bigint) end"
        if amount:
            row_amount = decimal_sql(ident(amount), comma)
            unread_amount = f"case when {row_amount} is null then {ident(amount)} end"
        else:
            p = ident(price)
            row_amount = f"{decimal_sql(p, comma)} * {units if quantity else '1'}"
            unread_amount = (
                f"case when {decimal_sql(p, comma)} is null then {p} "
                + (f"when {units} is null then {q} " if quantity else "")
                + "end"
            )
            f.report.notes.append(
                f"amount = {price} x {quantity}" if quantity else f"amount = {price} (no quantity)"
            )
        rows = f"{f.table}_rows"
        ctx.con.execute(f"""
            create table {rows} as
            select
                {ROW} as r,
                {ident(customer)} as customer_id,
                {ident(date)} as order_at,
                -- a row without an invoice number is an order of its own
                coalesce({ident(invoice) if invoice else NULL}, {lit(f.path.name + ":")}
                    || cast({ROW} as varchar)) as invoice,
                {ident(currency) if currency else NULL} as currency,
                {ident(amount) if amount else NULL} as amount_text,
                {row_amount} as amount,
                {unread_amount} as unread_amount,
                {q} as quantity_text,
                {whole_units} as quantity,
                case when {q} is not null and {whole_units} is null then {q} end
                    as unread_quantity
            from {ident(f.table)}
        """)
        if invoice:
            sql = f"""
                select
                    min(r) as r,
                    invoice as order_id,
                    arg_min(customer_id, r) filter (where customer_id is not null)
                        as customer_id,
                    arg_min(order_at, r) filter (where order_at is not null) as order_at,
                    arg_min(currency, r) filter (where currency is not null) as currency,
                    coalesce(
                        arg_min(unread_amount, r) filter (where unread_amount is not null),
                        case when count(amount) > 0 then {_number_text("sum(amount)")} end
                    ) as total_amount,
                    coalesce(
                        arg_min(unread_quantity, r) filter (where unread_quantity is not null),
                        cast(sum(quantity) as varchar)
                    ) as item_count,
                    case when count(customer_id) = 0
                        then 'missing_required:customer_id' end as {ident(REASON_COLUMN)}
                from {rows}
                group by invoice
            """
            orders = ctx.count(f"select distinct invoice from {rows}")
            f.report.notes.append(
                f"{_n(f.report.rows_read - len(f.malformed), 'row')} summed into "
                f"{_n(orders, 'order')} by {invoice}"
            )
        else:
            total = "amount_text" if amount else _number_text("amount")
            sql = f"""
                select
                    r,
                    {lit(f.path.name + ":")} || cast(r as varchar) as order_id,
                    customer_id,
                    order_at,
                    currency,
                    coalesce(unread_amount, {total}) as total_amount,
                    quantity_text as item_count,
                    case when customer_id is null
                        then 'missing_required:customer_id' end as {ident(REASON_COLUMN)}
                from {rows}
            """
            f.report.notes.append(
                f"one order per row (no invoice or order number column), order_id = "
                f"'{f.path.name}:<row number>'"
            )
        out.append(ctx.shaped("shop_orders", f, sql, first=True))
        no_customer = ctx.count(f"select 1 from {rows} where customer_id is null")
        if no_customer and not invoice:
            f.report.notes.append(f"{_n(no_customer, 'row')} without a customer id: rejected")
        elif no_customer:
            nobody = ctx.count(
                f"select invoice from {rows} group by 1 having count(customer_id) = 0"
            )
            f.report.notes.append(
                f"{_n(no_customer, 'row')} without a customer id: "
                f"{_n(nobody, 'invoice')} with no customer id at all rejected, the others "
                "take their invoice's customer"
            )
    return out


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Preset:
    """A layout users have: how to recognise it and which raw tables it fills."""

    name: str
    reads: str
    fills: tuple[str, ...]
    detect: Callable[[Sequence[str]], bool] = field(repr=False)
    shape: Callable[[_Context], list[Shaped]] = field(repr=False)
    timestamp_formats: tuple[str, ...] = ()  # tried after the user's --timestamp-format
    # columns a file must have (each: its spellings), checked before shaping
    required: tuple[tuple[str, ...], ...] = ()

    def missing(self, names: Sequence[str]) -> list[str]:
        """The required columns (first spelling) a header lacks."""
        return [spellings[0] for spellings in self.required if not _has(names, *spellings)]


def _has(names: Sequence[str], *spellings: str) -> bool:
    return _find(names, spellings) is not None


def _is_shopify(names: Sequence[str]) -> bool:
    return (
        _has(names, "Name")
        and _has(names, "Financial Status")
        and (_has(names, "Lineitem quantity") or _has(names, "Lineitem name"))
    )


def _is_mailchimp(names: Sequence[str]) -> bool:
    return _has(names, "Email Address") and _has(
        names,
        "MEMBER_RATING",
        "LEID",
        "EUID",
        "OPTIN_TIME",
        "CONFIRM_TIME",
        "UNSUB_TIME",
        "CLEAN_TIME",
    )


def _is_klaviyo(names: Sequence[str]) -> bool:
    return _has(names, "Email", "Phone Number") and _has(
        names,
        "Klaviyo ID",
        "Email Marketing Consent",
        "SMS Marketing Consent",
        "Profile Created On",
        "State / Region",
        "Email Suppressions",
    )


def _is_transaction_log(names: Sequence[str]) -> bool:
    return (
        _has(names, *_CUSTOMER)
        and _has(names, *_DATE)
        and (_has(names, *_AMOUNT) or _has(names, *_PRICE))
    )


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "shopify_orders",
            "Shopify admin orders export (Orders > Export: one row per line item)",
            (
                "shop_orders",
                "shop_order_items",
                "shop_products",
                "shop_customers",
                "privacy_consent_events",
            ),
            _is_shopify,
            _shape_shopify,
            (SHOPIFY_TIMESTAMP,),
            (("Name", "Order Name", "Order"), ("Created at", "Created"), ("Total",)),
        ),
        Preset(
            "mailchimp_members",
            "Mailchimp audience export: the subscribed, unsubscribed and cleaned files",
            ("esp_subscribers", "privacy_consent_events"),
            _is_mailchimp,
            _shape_mailchimp,
            required=(("Email Address", "Email"),),
        ),
        Preset(
            "klaviyo_profiles",
            "Klaviyo profile export of a list or segment",
            ("crm_contacts", "esp_subscribers", "privacy_consent_events"),
            _is_klaviyo,
            _shape_klaviyo,
            required=(("Email", "Email Address", "E-mail", "Phone Number", "Phone"),),
        ),
        Preset(
            "transaction_log",
            "a bare transaction log: customer id, date, amount (or unit price), quantity",
            ("shop_orders",),
            _is_transaction_log,
            _shape_transaction_log,
        ),
    )
}


def preset_lines() -> list[str]:
    """What `mailroom load --list-presets` prints."""
    out = []
    for p in PRESETS.values():
        out += [p.name, f"  reads: {p.reads}", f"  fills: {', '.join(p.fills)}"]
    out.append(
        "Use: mailroom load FILE... --preset NAME (without --preset the layout is recognised "
        "from the header)."
    )
    return out


def detect(names: Sequence[str]) -> str | None:
    """The preset whose layout a header matches (checked in PRESETS order), or None."""
    for p in PRESETS.values():
        if p.detect(names):
            return p.name
    return None


def detect_files(files: Sequence[str | Path], options: LoadOptions | None = None) -> str:
    """The one preset every file's header matches. Raises `LoadError` naming the files
    that match none (or different ones), the presets, and the TABLE form."""
    options = options or LoadOptions()
    found = {Path(f): detect(read_header(Path(f), options)) for f in files}
    unknown = [str(f) for f, name in found.items() if name is None]
    if unknown:
        raise LoadError(
            f"cannot tell which export {', '.join(unknown)} is from its header; name it with "
            f"--preset ({', '.join(PRESETS)}; see --list-presets) or load into one table "
            "with mailroom load TABLE FILE [--map CONTRACT_COL=FILE_COL]"
        )
    names = set(found.values())
    if len(names) > 1:
        shown = ", ".join(f"{f.name}: {n}" for f, n in found.items())
        raise LoadError(f"the files look like different exports ({shown}); load them apart")
    return names.pop()  # type: ignore[return-value]


def load_preset(
    name: str,
    files: Sequence[str | Path] | str | Path,
    options: LoadOptions | None = None,
    *,
    warehouse: str | Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> LoadReport:
    """Load export `files` with preset `name`; returns the report. Raises `LoadError`."""
    if name not in PRESETS:
        raise LoadError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    options = options or LoadOptions()
    if isinstance(files, str | Path):
        files = [files]
    if not files:
        raise LoadError("no files to load")
    if options.mapping:
        raise LoadError(f"--map and --mapping do not apply to a preset ({name})")
    if options.replace:
        raise LoadError(
            f"--replace does not apply to a preset ({name}): it fills several tables; "
            "empty one with mailroom load TABLE FILE --replace"
        )
    formats = tuple(dict.fromkeys([*options.timestamp_formats, *preset.timestamp_formats]))
    options = replace(options, timestamp_formats=formats)
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    work = duckdb.connect()
    try:
        set_timezone(work, options.timezone)
        work.execute("set enable_progress_bar = false")
        read: list[_File] = []
        for i, path in enumerate(Path(f) for f in files):
            table = f"file_{i}"
            names, malformed = read_as_text(work, table, path, options)
            missing = preset.missing(names)
            if missing:
                raise LoadError(
                    f"{path} does not read as {name}: it lacks {', '.join(missing)} "
                    f"(file columns: {', '.join(names)})"
                )
            rows = int(work.execute(f"select count(*) from {table}").fetchall()[0][0])
            report = SourceReport(path, preset.reads, rows_read=rows + len(malformed))
            if malformed:
                report.notes.append(
                    f"{_n(len(malformed), 'malformed line')} (wrong number of fields): rejected"
                )
            read.append(_File(path, table, names, malformed, report))
        ctx = _Context(work, read, options, loaded_at)
        try:
            shaped = preset.shape(ctx)
        except duckdb.Error as e:
            raise LoadError(f"cannot shape the files as {name}: {_one_line(e)}") from None
        for f in read:
            used = set(f.report.used_columns)
            f.report.used_columns = [n for n in f.names if n in used]
            f.report.unused_columns = [n for n in f.names if n not in used]
    finally:
        work.close()
    return load_shaped(
        shaped,
        ctx.options,
        preset=name,
        sources=[f.report for f in read],
        loaded_at=loaded_at,
        warehouse=warehouse,
        con=con,
    )


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."


def looks_like_file(arg: str) -> bool:
    """Whether a first positional argument of `mailroom load` is a file rather than a
    table: not a contract table, and an existing path or a supported file name."""
    if arg in load_contract():
        return False
    path = Path(arg)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return path.exists() or bool(
        suffixes and suffixes[-1] in (*CSV_EXTENSIONS, *PARQUET_EXTENSIONS)
    )
