{#- Segment performance: for every rule-based segment, its members (a person in
    several segments counts in each), how many of them may get marketing
    e-mail, what they bought and how they engaged in the 90 days up to the
    as-of date, and their average purchase propensity. Compare segments
    before choosing whom a campaign targets.
    Run: dbt compile --select segment_performance, then query
    target/compiled/mailroom/analyses/segment_performance.sql. -#}
{%- set window_start = dbt.dateadd('day', -90, mailroom.as_of_timestamp()) -%}
with

memberships as (
    select * from {{ ref('fct_segment_memberships') }}
),

segments as (
    select * from {{ ref('dim_segments') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

email_events as (
    select * from {{ ref('fct_email_events') }}
),

propensity_scores as (
    select * from {{ ref('fct_propensity_scores') }}
),

recent_orders as (
    select
        person_id,
        count(*) as order_count,
        sum(total_amount_reporting) as revenue
    from orders
    where
        is_completed
        and ordered_at >= {{ window_start }}
        and ordered_at < {{ mailroom.as_of_timestamp() }}
    group by 1
),

recent_email as (
    select
        person_id,
        sum(case when event_type = 'delivered' and is_first_of_type then 1 else 0 end) as delivery_count,
        sum(case when event_type = 'open' and is_first_of_type then 1 else 0 end) as unique_open_count,
        sum(case when event_type = 'click' and is_first_of_type then 1 else 0 end) as unique_click_count
    from email_events
    where
        person_id is not null
        and event_at >= {{ window_start }}
        and event_at < {{ mailroom.as_of_timestamp() }}
    group by 1
),

purchase_scores as (
    select
        person_id,
        score
    from propensity_scores
    where model_name = 'purchase'
),

member_activity as (
    select
        memberships.segment_id,
        memberships.person_id,
        customers.is_email_contactable,
        purchase_scores.score as purchase_score,
        coalesce(recent_orders.order_count, 0) as order_count,
        coalesce(recent_orders.revenue, 0) as revenue,
        coalesce(recent_email.delivery_count, 0) as delivery_count,
        coalesce(recent_email.unique_open_count, 0) as unique_open_count,
        coalesce(recent_email.unique_click_count, 0) as unique_click_count
    from memberships
    inner join customers
        on memberships.person_id = customers.person_id
    left join recent_orders
        on memberships.person_id = recent_orders.person_id
    left join recent_email
        on memberships.person_id = recent_email.person_id
    left join purchase_scores
        on memberships.person_id = purchase_scores.person_id
),

segment_activity as (
    select
        segment_id,
        count(*) as member_count,
        sum(case when is_email_contactable then 1 else 0 end) as contactable_member_count,
        sum(order_count) as orders_90d,
        sum(revenue) as revenue_90d,
        sum(delivery_count) as email_deliveries_90d,
        sum(unique_open_count) as unique_opens_90d,
        sum(unique_click_count) as unique_clicks_90d,
        avg(purchase_score) as avg_purchase_score
    from member_activity
    group by 1
),

final as (
    select
        segments.segment_id,
        segments.segment_name,
        segments.priority,
        coalesce(segment_activity.member_count, 0) as member_count,
        coalesce(segment_activity.contactable_member_count, 0) as contactable_member_count,
        coalesce(segment_activity.orders_90d, 0) as orders_90d,
        coalesce(segment_activity.revenue_90d, 0) as revenue_90d,
        1.0 * segment_activity.revenue_90d / nullif(segment_activity.member_count, 0) as revenue_per_member_90d,
        coalesce(segment_activity.email_deliveries_90d, 0) as email_deliveries_90d,
        1.0 * segment_activity.unique_opens_90d / nullif(segment_activity.email_deliveries_90d, 0) as open_rate_90d,
        1.0 * segment_activity.unique_clicks_90d / nullif(segment_activity.email_deliveries_90d, 0) as click_rate_90d,
        segment_activity.avg_purchase_score
    from segments
    left join segment_activity
        on segments.segment_id = segment_activity.segment_id
)

select * from final
order by 3, 1  -- priority, segment_id
