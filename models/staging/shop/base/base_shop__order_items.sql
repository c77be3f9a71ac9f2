{%- set checks = [
    ["order_item_id is null", "missing_key", "order_item_id"],
    ["order_id is null or not has_order", "orphan_order_item", "order_id"],
    ["not has_valid_order", "parent_order_quarantined", "order_id"],
    ["quantity is null or quantity <= 0", "bad_quantity", "quantity"],
    ["raw_unit_price is not null and unit_price is null", "unparseable_amount", "unit_price"],
    ["unit_price < 0", "negative_amount", "unit_price"],
] -%}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_batch_key',
    on_schema_change='append_new_columns',
    post_hook="{{ mailroom.incremental_delete_removed(source('shop', 'shop_order_items'), 'order_item_id') }}",
) }}

with

source as (
    select * from {{ source('shop', 'shop_order_items') }}
    {%- if is_incremental() %}
    -- an incremental run re-computes only the keys with new rows (macro incremental_batch_keys)
    where {{ mailroom.incremental_batch_key('order_item_id') }} in (
        {{ mailroom.incremental_batch_keys(source('shop', 'shop_order_items'), 'order_item_id') }}
    )
        -- and the lines of every order re-computed since this table's last run:
        -- an order's latest version decides its lines' verdict and currency
        or trim(order_id) in (
            select order_id from {{ ref('base_shop__orders') }}
            where _processed_at > (
                select coalesce(max(_processed_at), cast('1900-01-01' as {{ dbt.type_timestamp() }}))
                from {{ this }}
            )
        )
        -- and the lines whose order is gone (deleted from the raw orders): orphans now
        -- (lines already orphaned wait for their order: the clause above re-computes them)
        or trim(order_id) in (
            select order_id from {{ this }}
            where
                coalesce(quarantine_reason, '') <> 'orphan_order_item'
                and order_id not in (
                    select order_id from {{ ref('base_shop__orders') }}
                    where order_id is not null
                )
        )
    {%- endif %}
),

orders as (
    select * from {{ ref('base_shop__orders') }}
),

-- an order's latest version decides whether its lines are staged, and in which currency
order_validity as (
    select
        order_id,
        quarantine_reason is null as has_valid_order,
        currency
    from orders
    where order_id is not null and version_rank = 1
),

renamed as (
    select
        -- ids
        nullif(trim(source.order_item_id), '') as order_item_id,
        nullif(trim(source.order_id), '') as order_id,
        nullif(trim(source.product_id), '') as product_id,

        -- numbers
        coalesce({{ mailroom.parse_integer('source.quantity') }}, case when nullif(trim(source.quantity), '') is null then 1 end) as quantity,
        {{ mailroom.parse_decimal('source.unit_price') }} as unit_price,
        order_validity.currency,
        {{ mailroom.to_reporting_currency(mailroom.parse_decimal('source.unit_price'), 'order_validity.currency') }} as unit_price_reporting,

        -- timestamps
        source._loaded_at,

        -- raw values for checks and the quarantine
        source.unit_price as raw_unit_price,
        order_validity.order_id is not null as has_order,
        coalesce(order_validity.has_valid_order, false) as has_valid_order,
        {{ mailroom.raw_columns(mailroom.source_columns('shop', 'shop_order_items'), 'source') }}
    from source
    left join order_validity
        on trim(source.order_id) = order_validity.order_id
),

checked as (
    select
        *,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column,
        {{ mailroom.incremental_columns('order_item_id') }}
    from renamed
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('shop', 'shop_order_items')) }}
)

select
    *,
    {{ mailroom.version_rank('order_item_id', among_clean_only=true) }} as version_rank
from with_raw_row
