{%- set checks = [
    ["order_id is null", "missing_key", "order_id"],
] + mailroom.timestamp_checks("raw_order_at", "ordered_at") + [
    ["total_amount is null", "unparseable_amount", "total_amount"],
    ["total_amount < 0", "negative_amount", "total_amount"],
    ["total_amount_reporting is null", "unknown_currency", "currency"],
    ["total_amount_reporting > " ~ var("max_order_amount"), "absurd_amount", "total_amount"],
    ["status not in ('completed', 'cancelled', 'refunded')", "unknown_status", "status"],
] -%}

with

source as (
    select * from {{ source('shop', 'shop_orders') }}
),

renamed as (
    select
        -- ids
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as customer_id,

        -- contact given at checkout
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        {{ mailroom.normalize_phone('phone', mailroom.calling_code(mailroom.country_code('shipping_country'))) }} as phone_e164,
        {{ mailroom.normalize_name('shipping_first_name') }} as shipping_first_name,
        {{ mailroom.normalize_name('shipping_last_name') }} as shipping_last_name,
        nullif(trim(shipping_street), '') as shipping_street,
        upper(nullif(trim(shipping_postcode), '')) as shipping_postcode,
        {{ mailroom.normalize_name('shipping_city') }} as shipping_city,
        {{ mailroom.country_code('shipping_country') }} as shipping_country_code,

        -- order
        coalesce(lower(nullif(trim(status), '')), 'completed') as status,
        upper(coalesce(nullif(trim(currency), ''), '{{ var("reporting_currency") }}')) as currency,
        {{ mailroom.parse_decimal('total_amount') }} as total_amount,
        coalesce({{ mailroom.parse_decimal('discount_amount') }}, 0) as discount_amount,
        {{ mailroom.parse_integer('item_count') }} as item_count,
        {{ mailroom.to_reporting_currency(
            mailroom.parse_decimal('total_amount'),
            "coalesce(nullif(trim(currency), ''), '" ~ var('reporting_currency') ~ "')"
        ) }} as total_amount_reporting,
        {{ mailroom.to_reporting_currency(
            "coalesce(" ~ mailroom.parse_decimal('discount_amount') ~ ", 0)",
            "coalesce(nullif(trim(currency), ''), '" ~ var('reporting_currency') ~ "')"
        ) }} as discount_amount_reporting,

        -- timestamps
        {{ mailroom.to_utc('order_at') }} as ordered_at,
        coalesce({{ mailroom.to_utc('updated_at') }}, {{ mailroom.to_utc('order_at') }}) as updated_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        order_at as raw_order_at,
        {{ mailroom.raw_row_json(mailroom.source_columns('shop', 'shop_orders')) }} as raw_row
    from source
),

checked as (
    select
        *,
        case when {{ mailroom.is_valid_email('email_raw_normalized') }} then email_raw_normalized end as email,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column
    from renamed
),

ranked as (
    select
        *,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        row_number() over (
            partition by order_id, quarantine_reason is null
            order by updated_at desc, _loaded_at desc
        ) as version_rank
    from checked
)

select * from ranked
