{#- One row per order attributed to a campaign by click-through: an order
    (known by the as-of date and not cancelled or refunded by it) placed by
    the person within var('campaign_attribution_days') days of a click on a
    campaign's e-mail (click <= order < click + window) belongs to the latest
    such click, across campaigns; an order is attributed once. -#}
{%- set window_days = var('campaign_attribution_days') -%}

with

email_events as (
    select * from {{ ref('fct_email_events') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

clicks as (
    select
        event_id as click_event_id,
        person_id,
        campaign_id,
        coalesce(variant, 'default') as variant,
        event_at as clicked_at
    from email_events
    where
        event_type = 'click'
        and person_id is not null
        and campaign_id is not null
),

converting_orders as (
    select
        order_id,
        person_id,
        ordered_at,
        total_amount_reporting
    from orders
    where
        person_id is not null
        and known_at < {{ mailroom.as_of_timestamp() }}
        and (reversed_at is null or reversed_at >= {{ mailroom.as_of_timestamp() }})
),

candidates as (
    select
        converting_orders.order_id,
        converting_orders.person_id,
        converting_orders.ordered_at,
        converting_orders.total_amount_reporting,
        clicks.click_event_id,
        clicks.campaign_id,
        clicks.variant,
        clicks.clicked_at,
        row_number() over (
            partition by converting_orders.order_id
            order by clicks.clicked_at desc, clicks.click_event_id desc
        ) as click_rank
    from converting_orders
    inner join clicks
        on
            converting_orders.person_id = clicks.person_id
            and converting_orders.ordered_at >= clicks.clicked_at
            and converting_orders.ordered_at < {{ dbt.dateadd('day', window_days, 'clicks.clicked_at') }}
),

final as (
    select
        -- ids
        order_id,
        person_id,
        campaign_id,
        click_event_id,

        -- strings
        variant,

        -- numbers
        total_amount_reporting as attributed_revenue,

        -- timestamps
        clicked_at,
        ordered_at
    from candidates
    where click_rank = 1
)

select * from final
