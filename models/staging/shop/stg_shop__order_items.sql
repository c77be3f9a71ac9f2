with

base as (
    select * from {{ ref('base_shop__order_items') }}
),

final as (
    select
        -- ids
        order_item_id,
        order_id,
        product_id,

        -- numbers
        quantity,
        unit_price,
        currency,
        unit_price_reporting,

        -- timestamps
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
