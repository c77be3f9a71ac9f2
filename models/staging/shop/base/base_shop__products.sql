{%- set checks = [
    ["product_id is null", "missing_key", "product_id"],
    ["raw_price is not null and price is null", "unparseable_amount", "price"],
    ["price < 0", "negative_amount", "price"],
    ["price is not null and price_reporting is null", "unknown_currency", "currency"],
] -%}

with

source as (
    select * from {{ source('shop', 'shop_products') }}
),

renamed as (
    select
        -- ids
        nullif(trim(product_id), '') as product_id,

        -- strings
        nullif(trim(product_name), '') as product_name,
        coalesce(nullif(trim(category), ''), 'Uncategorised') as category,
        nullif(trim(brand), '') as brand,
        upper(coalesce(nullif(trim(currency), ''), '{{ var("reporting_currency") }}')) as currency,

        -- numbers
        {{ mailroom.parse_decimal('price') }} as price,
        {{ mailroom.to_reporting_currency(
            mailroom.parse_decimal('price'),
            "coalesce(nullif(trim(currency), ''), '" ~ var('reporting_currency') ~ "')"
        ) }} as price_reporting,

        -- booleans
        coalesce({{ mailroom.parse_boolean('is_consumable') }}, false) as is_consumable,

        -- timestamps
        {{ mailroom.to_utc('created_at') }} as created_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        price as raw_price,
        {{ mailroom.raw_columns(mailroom.source_columns('shop', 'shop_products')) }}
    from source
),

checked as (
    select
        *,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column
    from renamed
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('shop', 'shop_products')) }}
)

select
    *,
    {{ mailroom.version_rank('product_id') }} as version_rank
from with_raw_row
