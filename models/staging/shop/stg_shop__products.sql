with

base as (
    select * from {{ ref('base_shop__products') }}
),

final as (
    select
        -- ids
        product_id,

        -- strings
        product_name,
        category,
        brand,
        currency,

        -- numbers
        price,
        price_reporting,

        -- booleans
        is_consumable,

        -- timestamps
        created_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
