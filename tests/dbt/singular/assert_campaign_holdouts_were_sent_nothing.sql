{#- An ESP control-group enrollment (holdout event) carries no variant, and
    the subscriber got no message of that campaign. Returns each subscriber
    and campaign that breaks it (fct_campaign_results counts such a person as
    treated: they were sent something). -#}
with

email_events as (
    select * from {{ ref('stg_esp__email_events') }}
),

holdouts as (
    select
        subscriber_id,
        campaign_id,
        max(case when variant is not null then 1 else 0 end) as has_variant
    from email_events
    where event_type = 'holdout'
    group by 1, 2
),

messages as (
    select
        subscriber_id,
        campaign_id,
        count(*) as message_events
    from email_events
    where event_type <> 'holdout'
    group by 1, 2
),

final as (
    select
        holdouts.subscriber_id,
        holdouts.campaign_id,
        holdouts.has_variant,
        coalesce(messages.message_events, 0) as message_events
    from holdouts
    left join messages
        on
            holdouts.subscriber_id = messages.subscriber_id
            and holdouts.campaign_id = messages.campaign_id
    where holdouts.has_variant = 1 or messages.message_events is not null
)

select * from final
