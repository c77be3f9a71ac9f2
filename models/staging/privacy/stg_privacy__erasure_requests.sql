with

base as (
    select * from {{ ref('base_privacy__erasure_requests') }}
),

final as (
    select
        -- ids
        request_id,
        customer_id,

        -- strings
        email,
        email_match_key,

        -- timestamps
        requested_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
