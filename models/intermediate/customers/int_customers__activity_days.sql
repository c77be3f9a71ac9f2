{#- One row per person, UTC day of activity and UTC day it became known, for
    web, e-mail and subscription activity. Features at D keep the rows known
    by D (a late webhook, or a device identified later, counts from then on)
    and put them in windows by the day the activity happened.
    The point-in-time features add these days up to any as-of date (orders are
    counted from fct_orders there: an order's standing depends on the date). -#}
with

email_events as (
    select * from {{ ref('fct_email_events') }}
),

web_events as (
    select * from {{ ref('fct_web_events') }}
),

subscribers as (
    select * from {{ ref('stg_esp__subscribers') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

activities as (
    select
        person_id,
        event_at as occurred_at,
        attributed_at as known_at,
        case when event_type = 'product_view' then 1 else 0 end as product_views,
        case when event_type = 'add_to_cart' then 1 else 0 end as cart_adds,
        case when is_session_start then 1 else 0 end as visits,
        0 as email_deliveries,
        0 as email_opens,
        0 as email_clicks,
        event_at as visit_at,
        case when event_type = 'add_to_cart' then event_at end as cart_add_at,
        cast(null as {{ dbt.type_timestamp() }}) as open_at,
        cast(null as {{ dbt.type_timestamp() }}) as click_at,
        cast(null as {{ dbt.type_timestamp() }}) as subscribed_at
    from web_events
    where person_id is not null

    union all

    select
        person_id,
        event_at as occurred_at,
        known_at,
        0 as product_views,
        0 as cart_adds,
        0 as visits,
        case when event_type = 'delivered' then 1 else 0 end as email_deliveries,
        case when event_type = 'open' then 1 else 0 end as email_opens,
        case when event_type = 'click' then 1 else 0 end as email_clicks,
        null as visit_at,
        null as cart_add_at,
        case when event_type = 'open' then event_at end as open_at,
        case when event_type = 'click' then event_at end as click_at,
        null as subscribed_at
    from email_events
    where
        person_id is not null
        and is_first_of_type
        and event_type in ('delivered', 'open', 'click')

    union all

    select
        clusters.person_id,
        subscribers.created_at as occurred_at,
        subscribers.created_at as known_at,
        0 as product_views,
        0 as cart_adds,
        0 as visits,
        0 as email_deliveries,
        0 as email_opens,
        0 as email_clicks,
        null as visit_at,
        null as cart_add_at,
        null as open_at,
        null as click_at,
        subscribers.created_at as subscribed_at
    from subscribers
    inner join clusters
        on
            clusters.source_table = 'esp_subscribers'
            and subscribers.subscriber_id = clusters.source_record_id
    where subscribers.created_at is not null
),

final as (
    select
        -- ids
        person_id,

        -- dates
        cast(occurred_at as date) as activity_date,
        cast(known_at as date) as known_date,

        -- numbers
        cast(sum(product_views) as integer) as product_views,
        cast(sum(cart_adds) as integer) as cart_adds,
        cast(sum(visits) as integer) as visits,
        cast(sum(email_deliveries) as integer) as email_deliveries,
        cast(sum(email_opens) as integer) as email_opens,
        cast(sum(email_clicks) as integer) as email_clicks,

        -- timestamps
        max(visit_at) as last_visit_at,
        max(cart_add_at) as last_cart_add_at,
        max(open_at) as last_open_at,
        max(click_at) as last_click_at,
        min(subscribed_at) as first_subscribed_at
    from activities
    group by 1, 2, 3
)

select * from final
where {{ mailroom.not_erased('final.person_id') }}
