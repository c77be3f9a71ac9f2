{#- fct_popular_products is the list fct_recommendations gives a person the
    warehouse knows nothing about (no product view or cart add attributed,
    no standing order, before the as-of timestamp): for every such person,
    the same products at the same ranks with the same scores. Returns the
    ranks where the two differ. -#}
{%- set cutoff = 'cast(' ~ mailroom.as_of_timestamp() ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

web_events as (
    select * from {{ ref('fct_web_events') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

recommendations as (
    select * from {{ ref('fct_recommendations') }}
),

popular_products as (
    select * from {{ ref('fct_popular_products') }}
),

people_with_evidence as (
    select web_events.person_id
    from web_events
    where
        web_events.event_type in ('product_view', 'add_to_cart')
        and web_events.attributed_at < {{ cutoff }}

    union

    select order_items.person_id
    from order_items
    where
        order_items.known_at < {{ cutoff }}
        and (order_items.reversed_at is null or order_items.reversed_at >= {{ cutoff }})
),

cold_start_people as (
    select customers.person_id
    from customers
    left join people_with_evidence
        on customers.person_id = people_with_evidence.person_id
    where people_with_evidence.person_id is null
),

expected as (
    select
        cold_start_people.person_id,
        popular_products.popularity_rank as recommendation_rank,
        popular_products.product_id,
        popular_products.popularity_score as score
    from cold_start_people
    cross join popular_products
),

actual as (
    select
        recommendations.person_id,
        recommendations.recommendation_rank,
        recommendations.product_id,
        recommendations.score
    from recommendations
    inner join cold_start_people
        on recommendations.person_id = cold_start_people.person_id
),

final as (
    select
        coalesce(expected.person_id, actual.person_id) as person_id,
        coalesce(expected.recommendation_rank, actual.recommendation_rank) as recommendation_rank,
        expected.product_id as expected_product_id,
        actual.product_id as actual_product_id,
        expected.score as expected_score,
        actual.score as actual_score
    from expected
    full outer join actual
        on
            expected.person_id = actual.person_id
            and expected.recommendation_rank = actual.recommendation_rank
)

select * from final
where
    expected_product_id is null
    or actual_product_id is null
    or expected_product_id != actual_product_id
    or abs(expected_score - actual_score) > 1e-9
