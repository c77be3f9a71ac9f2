with

base as (
    select * from {{ ref('base_esp__campaigns') }}
),

final as (
    select
        -- ids
        campaign_id,
        audience_id,

        -- strings
        campaign_name,
        campaign_type,
        subject_line,

        -- timestamps
        sent_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
