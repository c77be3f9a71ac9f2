with

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

staged_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

final as (
    select
        -- ids
        order_items.order_item_id,
        order_items.order_id,
        orders.person_id,
        order_items.product_id,

        -- strings
        products.product_name,
        products.category,
        products.brand,
        orders.status as order_status,

        -- numbers
        order_items.quantity,
        order_items.unit_price_reporting,
        cast(order_items.quantity * order_items.unit_price_reporting as decimal(18, 2)) as line_amount_reporting,

        -- booleans
        orders.is_completed as is_order_completed,

        -- timestamps
        orders.ordered_at,
        orders.known_at,
        orders.reversed_at
    from order_items
    left join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
    -- a staged order missing from fct_orders belongs to an erased person: its lines go too
    where
        orders.order_id is not null
        or order_items.order_id not in (select staged_orders.order_id from staged_orders)
)

select * from final
