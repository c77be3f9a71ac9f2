with

base as (
    select * from {{ ref('base_esp__email_events') }}
),

final as (
    select
        -- ids
        event_id,
        subscriber_id,
        campaign_id,

        -- strings
        email,
        event_type,
        variant,
        url,
        bounce_type,
        user_agent,

        -- timestamps
        event_at,
        received_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
