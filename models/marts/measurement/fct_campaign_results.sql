{#- One row per campaign and group: each variant of the treated recipients
    ('default' without variants) and the campaign's control group
    ('holdout'). Message counts, human and machine opens, click-through
    attributed orders and revenue, and the holdout comparison: conversion
    (a standing order within the window after the send or enrollment,
    intention to treat) and revenue per recipient of each variant against
    the holdout, with confidence intervals (Newcombe's hybrid score interval
    for the conversion lift; Welch's normal interval for revenue per
    recipient) at var('campaign_confidence_level'). Rates, lifts and
    intervals are rounded to 8 decimals, far below any sampling error, so that
    every engine reports the same figures whatever the order of its
    floating-point operations. -#}
{%- set z = mailroom.confidence_z(var('campaign_confidence_level')) -%}

with

recipients as (
    select * from {{ ref('int_measurement__campaign_recipients') }}
),

attributions as (
    select * from {{ ref('int_measurement__order_attributions') }}
),

campaigns as (
    select * from {{ ref('stg_esp__campaigns') }}
),

attributed as (
    -- an attributed order counts in the variant its clicker was sent
    select
        recipients.campaign_id,
        recipients.variant,
        count(*) as attributed_orders,
        sum(attributions.attributed_revenue) as attributed_revenue
    from attributions
    inner join recipients
        on
            attributions.campaign_id = recipients.campaign_id
            and attributions.person_id = recipients.person_id
    group by 1, 2
),

groups as (
    select
        campaign_id,
        variant,
        is_holdout,
        case
            when min(holdout_source) = max(holdout_source) then min(holdout_source)
            when min(holdout_source) is not null then 'audience_and_esp'
        end as holdout_source,
        min(window_start_at) as first_sent_at,
        count(*) as recipients,
        sum(sends) as sends,
        sum(deliveries) as deliveries,
        sum(case when deliveries > 0 then 1 else 0 end) as delivered_recipients,
        sum(bounces) as bounces,
        sum(case when has_open then 1 else 0 end) as unique_opens,
        sum(case when has_human_open then 1 else 0 end) as human_opens,
        sum(case when has_machine_open then 1 else 0 end) as machine_opens,
        sum(open_events) as open_events,
        sum(machine_open_events) as machine_open_events,
        sum(case when has_click then 1 else 0 end) as unique_clicks,
        sum(case when has_unsubscribe then 1 else 0 end) as unsubscribes,
        sum(case when has_spam_complaint then 1 else 0 end) as spam_complaints,
        sum(case when is_converted then 1 else 0 end) as converted_recipients,
        sum(window_revenue) as conversion_revenue,
        var_samp(cast(window_revenue as double)) as revenue_per_recipient_variance,
        min(case when is_window_complete then 1 else 0 end) = 1 as is_window_complete
    from recipients
    group by 1, 2, 3
),

compared as (
    select
        groups.*,
        coalesce(groups.holdout_source, holdouts.holdout_source) as control_source,
        cast(groups.converted_recipients as double) / groups.recipients as conversion_rate,
        cast(groups.conversion_revenue as double) / groups.recipients as revenue_per_recipient,
        holdouts.recipients as holdout_recipients,
        holdouts.converted_recipients as holdout_converted_recipients,
        cast(holdouts.converted_recipients as double) / holdouts.recipients as holdout_conversion_rate,
        cast(holdouts.conversion_revenue as double) / holdouts.recipients as holdout_revenue_per_recipient,
        holdouts.revenue_per_recipient_variance as holdout_revenue_variance,
        {{ mailroom.wilson_bound('groups.converted_recipients', 'groups.recipients', z) }} as conversion_rate_low,
        {{ mailroom.wilson_bound('groups.converted_recipients', 'groups.recipients', z, upper=true) }}
            as conversion_rate_high,
        {{ mailroom.wilson_bound('holdouts.converted_recipients', 'holdouts.recipients', z) }}
            as holdout_conversion_rate_low,
        {{ mailroom.wilson_bound('holdouts.converted_recipients', 'holdouts.recipients', z, upper=true) }}
            as holdout_conversion_rate_high
    from groups
    left join groups as holdouts
        on
            groups.campaign_id = holdouts.campaign_id
            and holdouts.is_holdout
            and not groups.is_holdout
),

lifts as (
    select
        compared.*,
        compared.conversion_rate - compared.holdout_conversion_rate as conversion_lift,
        {{ mailroom.newcombe_bound(
            'compared.conversion_rate', 'compared.conversion_rate_low', 'compared.conversion_rate_high',
            'compared.holdout_conversion_rate', 'compared.holdout_conversion_rate_low',
            'compared.holdout_conversion_rate_high'
        ) }} as conversion_lift_ci_low,
        {{ mailroom.newcombe_bound(
            'compared.conversion_rate', 'compared.conversion_rate_low', 'compared.conversion_rate_high',
            'compared.holdout_conversion_rate', 'compared.holdout_conversion_rate_low',
            'compared.holdout_conversion_rate_high', upper=true
        ) }} as conversion_lift_ci_high,
        compared.revenue_per_recipient - compared.holdout_revenue_per_recipient as revenue_per_recipient_lift,
        -- Welch: the standard error of a difference of means with unequal variances
        sqrt(
            compared.revenue_per_recipient_variance / compared.recipients
            + compared.holdout_revenue_variance / compared.holdout_recipients
        ) as revenue_per_recipient_lift_se
    from compared
),

final as (
    select
        -- ids
        lifts.campaign_id,

        -- strings
        campaigns.campaign_name,
        campaigns.campaign_type,
        campaigns.audience_id,
        lifts.variant,
        lifts.control_source as holdout_source,

        -- numbers
        cast(lifts.recipients as integer) as recipients,
        cast(lifts.sends as integer) as sends,
        cast(lifts.deliveries as integer) as deliveries,
        cast(lifts.delivered_recipients as integer) as delivered_recipients,
        cast(lifts.bounces as integer) as bounces,
        cast(lifts.unique_opens as integer) as unique_opens,
        cast(lifts.human_opens as integer) as human_opens,
        cast(lifts.machine_opens as integer) as machine_opens,
        cast(lifts.open_events as integer) as open_events,
        cast(lifts.machine_open_events as integer) as machine_open_events,
        cast(lifts.unique_clicks as integer) as unique_clicks,
        cast(lifts.unsubscribes as integer) as unsubscribes,
        cast(lifts.spam_complaints as integer) as spam_complaints,
        round(cast(lifts.unique_opens as double) / nullif(lifts.delivered_recipients, 0), 8) as open_rate,
        round(cast(lifts.human_opens as double) / nullif(lifts.delivered_recipients, 0), 8) as human_open_rate,
        round(cast(lifts.unique_clicks as double) / nullif(lifts.delivered_recipients, 0), 8) as click_rate,
        round(cast(lifts.unique_clicks as double) / nullif(lifts.human_opens, 0), 8) as click_to_open_rate,
        cast(coalesce(attributed.attributed_orders, 0) as integer) as attributed_orders,
        cast(coalesce(attributed.attributed_revenue, 0) as decimal(18, 2)) as attributed_revenue,
        cast({{ var('campaign_attribution_days') }} as integer) as attribution_window_days,
        cast(lifts.converted_recipients as integer) as converted_recipients,
        round(lifts.conversion_rate, 8) as conversion_rate,
        cast(lifts.conversion_revenue as decimal(18, 2)) as conversion_revenue,
        round(lifts.revenue_per_recipient, 8) as revenue_per_recipient,
        round(lifts.revenue_per_recipient_variance, 8) as revenue_per_recipient_variance,
        cast(lifts.holdout_recipients as integer) as holdout_recipients,
        round(lifts.holdout_conversion_rate, 8) as holdout_conversion_rate,
        round(lifts.conversion_lift, 8) as conversion_lift,
        round(lifts.conversion_lift_ci_low, 8) as conversion_lift_ci_low,
        round(lifts.conversion_lift_ci_high, 8) as conversion_lift_ci_high,
        round(lifts.conversion_lift / nullif(lifts.holdout_conversion_rate, 0), 8) as relative_conversion_lift,
        round(lifts.revenue_per_recipient_lift, 8) as revenue_per_recipient_lift,
        round(lifts.revenue_per_recipient_lift - {{ z }} * lifts.revenue_per_recipient_lift_se, 8)
            as revenue_per_recipient_lift_ci_low,
        round(lifts.revenue_per_recipient_lift + {{ z }} * lifts.revenue_per_recipient_lift_se, 8)
            as revenue_per_recipient_lift_ci_high,
        cast({{ var('campaign_confidence_level') }} as double) as confidence_level,

        -- booleans
        lifts.is_holdout,
        lifts.is_window_complete,
        case
            when lifts.conversion_lift_ci_low is not null
                then lifts.conversion_lift_ci_low > 0 or lifts.conversion_lift_ci_high < 0
        end as is_significant,

        -- timestamps
        lifts.first_sent_at
    from lifts
    left join campaigns
        on lifts.campaign_id = campaigns.campaign_id
    left join attributed
        on
            lifts.campaign_id = attributed.campaign_id
            and lifts.variant = attributed.variant
)

select * from final
