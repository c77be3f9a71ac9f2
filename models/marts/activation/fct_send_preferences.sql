{#- One row per person: when to send (best UTC hour from their opens, shrunk
    towards the population), whether the frequency cap is reached (marketing
    e-mails delivered in the rolling 7 days up to the as-of date against
    var('frequency_cap_emails_per_7_days')), and whether engagement is
    declining (fatigue: the last 30 days' open rate below
    var('fatigue_open_rate_ratio') of the 60 days before, with at least
    var('fatigue_min_deliveries') deliveries in each). -#}
{%- set min_deliveries = var('fatigue_min_deliveries') -%}
with

send_hours as (
    select * from {{ ref('int_activation__send_hours') }}
),

features as (
    select * from {{ ref('int_customers__features') }}
),

engagement as (
    select
        person_id,
        as_of_date,
        coalesce(email_deliveries_7d, 0) as emails_delivered_7d,
        coalesce(email_deliveries_30d, 0) as recent_deliveries,
        coalesce(email_opens_30d, 0) as recent_opens,
        coalesce(email_deliveries_90d, 0) - coalesce(email_deliveries_30d, 0) as baseline_deliveries,
        coalesce(email_opens_90d, 0) - coalesce(email_opens_30d, 0) as baseline_opens
    from features
),

rates as (
    select
        person_id,
        as_of_date,
        emails_delivered_7d,
        recent_deliveries,
        baseline_deliveries,
        case when recent_deliveries > 0 then recent_opens * 1.0 / recent_deliveries end as recent_open_rate,
        case when baseline_deliveries > 0 then baseline_opens * 1.0 / baseline_deliveries end as baseline_open_rate
    from engagement
),

final as (
    select
        -- ids
        send_hours.person_id,

        -- strings
        send_hours.send_hour_source,

        -- numbers
        send_hours.best_send_hour_utc,
        send_hours.send_hour_score,
        cast(send_hours.best_hour_opens as integer) as best_hour_opens,
        cast(send_hours.total_opens as integer) as send_hour_opens,
        cast(coalesce(rates.emails_delivered_7d, 0) as integer) as emails_delivered_7d,
        {{ var('frequency_cap_emails_per_7_days') }} as frequency_cap_7d,
        cast(greatest({{ var('frequency_cap_emails_per_7_days') }} - coalesce(rates.emails_delivered_7d, 0), 0) as integer)
            as sends_remaining_7d,
        rates.recent_open_rate,
        rates.baseline_open_rate,

        -- booleans
        coalesce(rates.emails_delivered_7d, 0) >= {{ var('frequency_cap_emails_per_7_days') }} as is_frequency_capped,
        coalesce(
            rates.recent_deliveries >= {{ min_deliveries }}
            and rates.baseline_deliveries >= {{ min_deliveries }}
            and rates.baseline_open_rate > 0
            and rates.recent_open_rate < {{ var('fatigue_open_rate_ratio') }} * rates.baseline_open_rate,
            false
        ) as is_fatigued,

        -- dates
        {{ mailroom.as_of_date() }} as as_of_date
    from send_hours
    left join rates
        on send_hours.person_id = rates.person_id
)

select * from final
