{#- Generic test: no recommended product (column_name) was already bought by
    the person, unless consumable. "Bought" is what recommend_products sees at
    the row's recommended_at: a line of an order known before then and not
    cancelled or refunded by then. Fails with one row per offending
    recommendation. -#}
{% test recommendation_excludes_owned(model, column_name) %}

with

recommendations as (
    select * from {{ model }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
)

select
    recommendations.person_id,
    recommendations.{{ column_name }} as product_id,
    recommendations.recommended_at,
    count(*) as owned_lines
from recommendations
inner join order_items
    on
        recommendations.person_id = order_items.person_id
        and recommendations.{{ column_name }} = order_items.product_id
inner join products
    on order_items.product_id = products.product_id
where
    not products.is_consumable
    and order_items.known_at < recommendations.recommended_at
    and (order_items.reversed_at is null or order_items.reversed_at >= recommendations.recommended_at)
group by 1, 2, 3

{% endtest %}
