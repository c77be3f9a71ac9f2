{%- set checks = [
    ["order_id is null", "missing_key", "order_id"],
] + mailroom.timestamp_checks("raw_order_at", "ordered_at") + [
    ["total_amount is null", "unparseable_amount", "total_amount"],
    ["total_amount < 0", "negative_amount", "total_amount"],
    ["total_amount_reporting is null", "unknown_currency", "currency"],
    ["total_amount_reporting > " ~ var("max_order_amount"), "absurd_amount", "total_amount"],
    ["raw_discount_amount is not null and discount_amount is null", "unparseable_amount", "discount_amount"],
    ["status not in ('completed', 'cancelled', 'refunded')", "unknown_status", "status"],
] + mailroom.timestamp_checks("raw_updated_at", "parsed_updated_at", required=false) -%}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_batch_key',
    on_schema_change='append_new_columns',
    post_hook="{{ mailroom.incremental_delete_removed(source('shop', 'shop_orders'), 'order_id') }}",
) }}

with

source as (
    select * from {{ source('shop', 'shop_orders') }}
    {%- if is_incremental() %}
    -- an incremental run re-computes only the keys with new rows (macro incremental_batch_keys)
    where {{ mailroom.incremental_batch_key('order_id') }} in (
        {{ mailroom.incremental_batch_keys(source('shop', 'shop_orders'), 'order_id') }}
    )
    {%- endif %}
),

renamed as (
    select
        -- ids
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as customer_id,

        -- contact given at checkout
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        phone as raw_phone,
        {{ mailroom.normalize_name('shipping_first_name') }} as shipping_first_name,
        {{ mailroom.normalize_name('shipping_last_name') }} as shipping_last_name,
        nullif(trim(shipping_street), '') as shipping_street,
        {{ mailroom.regex_replace_all("nullif(trim(shipping_address_line_2), '')", '[[:space:]]+', ' ') }} as shipping_address_line_2,
        upper(nullif(trim(shipping_postcode), '')) as shipping_postcode,
        {{ mailroom.normalize_name('shipping_city') }} as shipping_city,
        -- kept as typed, not re-cased like the city: regions are often codes (CA, NSW)
        {{ mailroom.regex_replace_all("nullif(trim(shipping_region), '')", '[[:space:]]+', ' ') }} as shipping_region,
        {{ mailroom.country_code('shipping_country') }} as shipping_country_code,

        -- order
        coalesce(lower(nullif(trim(status), '')), 'completed') as status,
        upper(coalesce(nullif(trim(currency), ''), '{{ var("reporting_currency") }}')) as currency,
        {{ mailroom.parse_decimal('total_amount') }} as total_amount,
        {{ mailroom.parse_decimal('discount_amount') }} as discount_amount,
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
        -- an order never edited may land without updated_at: it is the order time
        coalesce({{ mailroom.to_utc('updated_at') }}, {{ mailroom.to_utc('order_at') }}) as updated_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        order_at as raw_order_at,
        nullif(trim(updated_at), '') as raw_updated_at,
        {{ mailroom.to_utc('updated_at') }} as parsed_updated_at,
        nullif(trim(discount_amount), '') as raw_discount_amount,
        {{ mailroom.raw_columns(mailroom.source_columns('shop', 'shop_orders')) }}
    from source
),

checked as (
    select
        *,
        case when {{ mailroom.is_valid_email('email_raw_normalized') }} then email_raw_normalized end as email,
        {{ mailroom.normalize_phone('raw_phone', mailroom.calling_code('renamed.shipping_country_code')) }} as phone_e164,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column,
        {{ mailroom.incremental_columns('order_id') }}
    from renamed
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('shop', 'shop_orders')) }}
),

ranked as (
    select
        *,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        {{ mailroom.version_rank('order_id', version_expr="updated_at") }} as version_rank
    from with_raw_row
)

select * from ranked
