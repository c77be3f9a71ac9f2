with

base as (
    select * from {{ ref('base_esp__subscribers') }}
),

final as (
    select
        -- ids
        subscriber_id,

        -- strings
        email,
        email_match_key,
        first_name,
        last_name,
        status,
        signup_source,

        -- booleans
        status = 'subscribed' as is_subscribed,

        -- timestamps
        created_at,
        coalesce(updated_at, created_at) as updated_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
