{#- One row per popularity rank (1..var('recommendation_count')): the recent
    best sellers at the as-of date, the list fct_recommendations gives a
    person the warehouse knows nothing about, and what the profile API
    recommends for a key it does not know. The popularity component of macro
    recommend_products at the as-of timestamp: distinct buyers (people of
    dim_customers) of order lines known before it, not cancelled or refunded
    by then, ordered in the var('recommendation_popularity_days') days before
    it, among the products on sale; one pseudo-buyer per product gives every
    product a share. Singular test assert_popular_products_match_cold_start_lists
    holds the two definitions together. -#}
{%- set cutoff = 'cast(' ~ mailroom.as_of_timestamp() ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

catalogue as (
    -- products on sale at the as-of timestamp
    select
        product_id,
        product_name,
        category,
        brand
    from products
    where created_at is null or created_at < {{ cutoff }}
),

recent_purchases as (
    -- lines of orders standing at the as-of timestamp, ordered in the popularity window
    select
        order_items.person_id,
        order_items.product_id
    from order_items
    inner join customers
        on order_items.person_id = customers.person_id
    inner join catalogue
        on order_items.product_id = catalogue.product_id
    where
        order_items.known_at < {{ cutoff }}
        and (order_items.reversed_at is null or order_items.reversed_at >= {{ cutoff }})
        and order_items.ordered_at >= {{ dbt.dateadd('day', -var('recommendation_popularity_days'), cutoff) }}
),

product_sales as (
    select
        product_id,
        count(distinct person_id) as recent_buyers
    from recent_purchases
    group by 1
),

ranked as (
    select
        catalogue.product_id,
        catalogue.product_name,
        catalogue.category,
        catalogue.brand,
        coalesce(product_sales.recent_buyers, 0) as recent_buyers,
        round(
            cast(coalesce(product_sales.recent_buyers, 0) + 1 as double)
            / sum(coalesce(product_sales.recent_buyers, 0) + 1) over (),
            10
        ) as popularity_score,
        row_number() over (
            order by coalesce(product_sales.recent_buyers, 0) desc, catalogue.product_id asc
        ) as popularity_rank
    from catalogue
    left join product_sales
        on catalogue.product_id = product_sales.product_id
),

final as (
    select
        -- keys
        cast(popularity_rank as integer) as popularity_rank,
        product_id,

        -- product
        product_name,
        category,
        brand,

        -- numbers
        cast(recent_buyers as bigint) as recent_buyers,
        cast(popularity_score as double) as popularity_score,

        -- dates
        {{ mailroom.as_of_date() }} as as_of_date
    from ranked
    where popularity_rank <= {{ var('recommendation_count') }}
)

select * from final
