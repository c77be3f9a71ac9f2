with

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

order_items as (
    select * from {{ ref('stg_shop__order_items') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

order_units as (
    -- units of the order's lines, where the order row does not say (most shops' exports)
    select
        order_id,
        sum(quantity) as units
    from order_items
    group by 1
),

order_persons as (
    -- a registered order belongs to its account's person, a guest order is a record of its own
    select
        orders.* exclude (item_count),
        cast(coalesce(orders.item_count, order_units.units) as integer) as item_count,
        coalesce(account_clusters.person_id, guest_clusters.person_id) as person_id
    from orders
    left join order_units
        on orders.order_id = order_units.order_id
    left join clusters as account_clusters
        on
            account_clusters.source_table = 'shop_customers'
            and orders.customer_id = account_clusters.source_record_id
    left join clusters as guest_clusters
        on
            guest_clusters.source_table = 'shop_orders'
            and orders.order_id = guest_clusters.source_record_id
),

final as (
    select
        -- ids
        order_id,
        person_id,
        customer_id,

        -- strings
        status,
        currency,
        shipping_country_code,

        -- numbers
        item_count,
        total_amount,
        total_amount_reporting,
        discount_amount_reporting,
        cast(total_amount_reporting + discount_amount_reporting as decimal(18, 2)) as gross_amount_reporting,
        cast(row_number() over (
            partition by person_id
            order by ordered_at, order_id
        ) as integer) as person_order_number,

        -- booleans
        is_guest_checkout,
        status = 'completed' as is_completed,

        -- timestamps
        ordered_at,
        -- when the warehouse could know the order: a completed order's row is
        -- its first version, loaded after it was placed; a reversed order's
        -- row is the reversal's, so its first arrival is unknown: ordered_at.
        -- History (a backfill, is_history_load) is known when it happened.
        case
            when status = 'completed' and not is_history_load
                then {{ mailroom.greatest_of(['ordered_at', '_loaded_at']) }}
            else ordered_at
        end as known_at,
        -- a cancelled or refunded order was reversed by its last update, known
        -- when loaded (history: at the update itself)
        case
            when status <> 'completed' and is_history_load
                then {{ mailroom.greatest_of(['updated_at', 'ordered_at']) }}
            when status <> 'completed'
                then {{ mailroom.greatest_of(['updated_at', 'ordered_at', '_loaded_at']) }}
        end as reversed_at,
        updated_at
    from order_persons
)

select * from final
where {{ mailroom.not_erased('final.person_id') }}
