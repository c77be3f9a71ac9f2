{#- One row per evaluated person and product they bought in the evaluation
    window: ordered from the split (macro recommendation_split_at) to the
    as-of timestamp, standing at the as-of date (known, not cancelled or
    refunded). Products the person had already bought before the split are
    left out unless consumable (the rule recommendations follow). Evaluated
    people were known before the split and bought at least one such product. -#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

owned_at_split as (
    -- bought before the split, standing then (as recommend_products sees it), not consumable
    select distinct
        order_items.person_id,
        order_items.product_id
    from order_items
    inner join products
        on order_items.product_id = products.product_id
    where
        order_items.person_id is not null
        and not products.is_consumable
        and order_items.known_at < {{ mailroom.recommendation_split_at() }}
        and (order_items.reversed_at is null or order_items.reversed_at >= {{ mailroom.recommendation_split_at() }})
),

window_purchases as (
    select
        order_items.person_id,
        order_items.product_id,
        min(order_items.ordered_at) as first_ordered_at,
        sum(order_items.quantity) as units
    from order_items
    where
        order_items.person_id is not null
        and order_items.product_id is not null
        and order_items.ordered_at >= {{ mailroom.recommendation_split_at() }}
        and order_items.known_at < {{ mailroom.as_of_timestamp() }}
        and (order_items.reversed_at is null or order_items.reversed_at >= {{ mailroom.as_of_timestamp() }})
    group by 1, 2
),

final as (
    select
        -- ids
        window_purchases.person_id,
        window_purchases.product_id,

        -- numbers
        window_purchases.units,

        -- timestamps
        window_purchases.first_ordered_at,
        {{ mailroom.recommendation_split_at() }} as split_at
    from window_purchases
    inner join customers
        on window_purchases.person_id = customers.person_id
    inner join golden_records
        on window_purchases.person_id = golden_records.person_id
    left join owned_at_split
        on
            window_purchases.person_id = owned_at_split.person_id
            and window_purchases.product_id = owned_at_split.product_id
    where
        golden_records.first_seen_at < {{ mailroom.recommendation_split_at() }}
        and owned_at_split.product_id is null
)

select * from final
