{#- One row per campaign and person it measures: every person the campaign
    reached (any message event: a send, or a delivery or open whose send
    event was lost) in the variant they got ('default' without variants), and
    every person of its control group ('holdout'): enrolled at the ESP (a
    holdout event) or, for a campaign sent to one of our audiences
    (stg_esp__campaigns.audience_id), that audience's holdout members at the
    send date who could have been sent (contactable, not capped). A person who
    was sent the campaign is treated, never control. Each person's conversion
    window starts at their first send (or enrollment; the campaign's first
    send for audience holdouts) and lasts var('campaign_attribution_days'). -#}
{%- set window_days = var('campaign_attribution_days') -%}

with

email_events as (
    select * from {{ ref('fct_email_events') }}
),

email_opens as (
    select * from {{ ref('int_measurement__email_opens') }}
),

campaigns as (
    select * from {{ ref('stg_esp__campaigns') }}
),

audience_history as (
    select * from {{ ref('fct_audience_membership_history') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

open_flags as (
    select
        campaign_id,
        person_id,
        count(*) as open_events,
        sum(case when is_machine_open then 1 else 0 end) as machine_open_events,
        max(case when is_machine_open then 0 else 1 end) as has_human_open,
        max(case when is_machine_open then 1 else 0 end) as has_machine_open
    from email_opens
    where person_id is not null and campaign_id is not null
    group by 1, 2
),

messaged as (
    select
        campaign_id,
        person_id,
        coalesce(min(variant), 'default') as variant,
        coalesce(min(case when event_type = 'send' then event_at end), min(event_at)) as window_start_at,
        sum(case when event_type = 'send' then 1 else 0 end) as sends,
        sum(case when event_type = 'delivered' then 1 else 0 end) as deliveries,
        sum(case when event_type = 'bounce' then 1 else 0 end) as bounces,
        max(case when event_type = 'open' then 1 else 0 end) as has_open,
        max(case when event_type = 'click' then 1 else 0 end) as has_click,
        max(case when event_type = 'unsubscribe' then 1 else 0 end) as has_unsubscribe,
        max(case when event_type = 'spam_complaint' then 1 else 0 end) as has_spam_complaint
    from email_events
    where
        person_id is not null
        and campaign_id is not null
        and event_type <> 'holdout'
    group by 1, 2
),

first_sends as (
    select
        campaign_id,
        min(window_start_at) as first_sent_at
    from messaged
    group by 1
),

campaign_starts as (
    -- campaigns sent to one of our audiences, and when they were first sent
    select
        campaigns.campaign_id,
        campaigns.audience_id,
        coalesce(first_sends.first_sent_at, campaigns.sent_at) as first_sent_at
    from campaigns
    left join first_sends
        on campaigns.campaign_id = first_sends.campaign_id
    where campaigns.audience_id is not null
),

audience_snapshots as (
    -- the audience as last published on or before the send date
    select
        campaign_starts.campaign_id,
        max(audience_history.as_of_date) as as_of_date
    from campaign_starts
    inner join audience_history
        on
            campaign_starts.audience_id = audience_history.audience_id
            and audience_history.as_of_date <= cast(campaign_starts.first_sent_at as date)
    group by 1
),

control_enrollments as (
    select
        campaign_id,
        person_id,
        event_at as window_start_at,
        'esp' as holdout_source
    from email_events
    where
        event_type = 'holdout'
        and person_id is not null
        and campaign_id is not null

    union all

    select
        campaign_starts.campaign_id,
        audience_history.person_id,
        campaign_starts.first_sent_at as window_start_at,
        'audience' as holdout_source
    from campaign_starts
    inner join audience_snapshots
        on campaign_starts.campaign_id = audience_snapshots.campaign_id
    inner join audience_history
        on
            campaign_starts.audience_id = audience_history.audience_id
            and audience_snapshots.as_of_date = audience_history.as_of_date
    where
        audience_history.is_holdout
        and audience_history.is_email_contactable
        and not coalesce(audience_history.is_frequency_capped, false)
),

controls as (
    select
        control_enrollments.campaign_id,
        control_enrollments.person_id,
        min(control_enrollments.window_start_at) as window_start_at,
        min(control_enrollments.holdout_source) as holdout_source
    from control_enrollments
    left join messaged
        on
            control_enrollments.campaign_id = messaged.campaign_id
            and control_enrollments.person_id = messaged.person_id
    where messaged.person_id is null
    group by 1, 2
),

recipients as (
    select
        messaged.campaign_id,
        messaged.person_id,
        messaged.variant,
        false as is_holdout,
        cast(null as varchar) as holdout_source,
        messaged.window_start_at,
        messaged.sends,
        messaged.deliveries,
        messaged.bounces,
        messaged.has_open,
        coalesce(open_flags.has_human_open, 0) as has_human_open,
        coalesce(open_flags.has_machine_open, 0) as has_machine_open,
        coalesce(open_flags.open_events, 0) as open_events,
        coalesce(open_flags.machine_open_events, 0) as machine_open_events,
        messaged.has_click,
        messaged.has_unsubscribe,
        messaged.has_spam_complaint
    from messaged
    left join open_flags
        on
            messaged.campaign_id = open_flags.campaign_id
            and messaged.person_id = open_flags.person_id

    union all

    select
        campaign_id,
        person_id,
        'holdout' as variant,
        true as is_holdout,
        holdout_source,
        window_start_at,
        0 as sends,
        0 as deliveries,
        0 as bounces,
        0 as has_open,
        0 as has_human_open,
        0 as has_machine_open,
        0 as open_events,
        0 as machine_open_events,
        0 as has_click,
        0 as has_unsubscribe,
        0 as has_spam_complaint
    from controls
),

converting_orders as (
    -- orders known by the as-of date and not cancelled or refunded by it (as the features decide)
    select
        person_id,
        ordered_at,
        total_amount_reporting
    from orders
    where
        person_id is not null
        and known_at < {{ mailroom.as_of_timestamp() }}
        and (reversed_at is null or reversed_at >= {{ mailroom.as_of_timestamp() }})
),

window_orders as (
    select
        recipients.campaign_id,
        recipients.person_id,
        count(*) as window_orders,
        sum(converting_orders.total_amount_reporting) as window_revenue
    from recipients
    inner join converting_orders
        on
            recipients.person_id = converting_orders.person_id
            and recipients.window_start_at <= converting_orders.ordered_at
            and {{ dbt.dateadd('day', window_days, 'recipients.window_start_at') }} > converting_orders.ordered_at
    group by 1, 2
),

final as (
    select
        -- ids
        recipients.campaign_id,
        recipients.person_id,

        -- strings
        recipients.variant,
        recipients.holdout_source,

        -- numbers
        cast(recipients.sends as integer) as sends,
        cast(recipients.deliveries as integer) as deliveries,
        cast(recipients.bounces as integer) as bounces,
        cast(recipients.open_events as integer) as open_events,
        cast(recipients.machine_open_events as integer) as machine_open_events,
        cast(coalesce(window_orders.window_orders, 0) as integer) as window_orders,
        cast(coalesce(window_orders.window_revenue, 0) as decimal(18, 2)) as window_revenue,

        -- booleans
        recipients.is_holdout,
        recipients.has_open = 1 as has_open,
        recipients.has_human_open = 1 as has_human_open,
        recipients.has_machine_open = 1 as has_machine_open,
        recipients.has_click = 1 as has_click,
        recipients.has_unsubscribe = 1 as has_unsubscribe,
        recipients.has_spam_complaint = 1 as has_spam_complaint,
        coalesce(window_orders.window_orders, 0) > 0 as is_converted,
        {{ dbt.dateadd('day', window_days, 'recipients.window_start_at') }}
        <= {{ mailroom.as_of_timestamp() }} as is_window_complete,

        -- timestamps
        recipients.window_start_at,
        {{ dbt.dateadd('day', window_days, 'recipients.window_start_at') }} as window_end_at
    from recipients
    left join window_orders
        on
            recipients.campaign_id = window_orders.campaign_id
            and recipients.person_id = window_orders.person_id
)

select * from final
