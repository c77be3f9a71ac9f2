{#- One row per person and product category or brand they showed interest in,
    at the as-of date. Each product view, cart add and purchased line adds its
    weight (var('affinity_weights')), halved every var('affinity_half_life_days')
    days of age; share is the score over the person's total for that kind. -#}
{%- set weights = var('affinity_weights') -%}
with

web_events as (
    select * from {{ ref('fct_web_events') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

signals as (
    select
        person_id,
        product_category as category,
        product_brand as brand,
        event_at as signal_at,
        case event_type
            when 'product_view' then {{ weights['product_view'] }}
            when 'add_to_cart' then {{ weights['add_to_cart'] }}
        end as weight
    from web_events
    where
        person_id is not null
        and event_type in ('product_view', 'add_to_cart')
        and attributed_at < {{ mailroom.as_of_timestamp() }}

    union all

    select
        person_id,
        category,
        brand,
        ordered_at as signal_at,
        {{ weights['purchase'] }} * quantity as weight
    from order_items
    where
        person_id is not null
        -- standing at the as-of date: known by then and not reversed by then
        and known_at < {{ mailroom.as_of_timestamp() }}
        and (reversed_at is null or reversed_at >= {{ mailroom.as_of_timestamp() }})
),

decayed as (
    select
        person_id,
        category,
        brand,
        weight * power(
            0.5,
            {{ dbt.datediff('signal_at', mailroom.as_of_timestamp(), 'hour') }} / (24.0 * {{ var('affinity_half_life_days') }})
        ) as score
    from signals
),

scores as (
    select
        person_id,
        'category' as affinity_type,
        category as affinity_value,
        sum(score) as score
    from decayed
    where category is not null
    group by 1, 2, 3

    union all

    select
        person_id,
        'brand' as affinity_type,
        brand as affinity_value,
        sum(score) as score
    from decayed
    where brand is not null
    group by 1, 2, 3
),

final as (
    select
        -- ids
        person_id,
        affinity_type,
        affinity_value,

        -- numbers
        cast(score as double) as score,
        cast(score / sum(score) over (partition by person_id, affinity_type) as double) as share,
        cast(row_number() over (
            partition by person_id, affinity_type
            order by score desc, affinity_value asc
        ) as integer) as affinity_rank
    from scores
)

select * from final
