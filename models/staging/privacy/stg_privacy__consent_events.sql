with

base as (
    select * from {{ ref('base_privacy__consent_events') }}
),

final as (
    select
        -- ids
        consent_event_id,
        customer_id,

        -- strings
        email,
        email_match_key,
        channel,
        purpose,
        status,
        collected_by,

        -- booleans
        status = 'granted' as is_granted,

        -- timestamps
        event_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
