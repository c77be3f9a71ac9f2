with

base as (
    select * from {{ ref('base_web__events') }}
),

final as (
    select
        -- ids
        event_id,
        anonymous_id,
        customer_id,
        order_id,
        product_id,

        -- strings
        event_type,
        page_url,
        product_category,
        email,
        email_match_key,

        -- numbers
        product_price,

        -- timestamps
        event_at,
        received_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
