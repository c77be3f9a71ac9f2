{#- One row per audience of seeds/audiences.csv (audience_id): its definition
    and its members at the as-of date (fct_audience_memberships), held out and
    sendable. An audience nobody qualifies for today is here with zero
    members, so a consumer (the profile API's audience pages) can tell an
    empty audience from an unknown one. -#}
with

audiences as (
    select * from {{ ref('audiences') }}
),

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

member_counts as (
    select
        audience_id,
        count(*) as member_count,
        sum(case when is_holdout then 1 else 0 end) as holdout_count,
        sum(case when is_sendable then 1 else 0 end) as sendable_count
    from memberships
    group by 1
),

final as (
    select
        -- ids
        audiences.audience_id,

        -- strings
        audiences.audience_name,
        audiences.description,
        audiences.segment_id,
        audiences.model_name,
        audiences.tier,
        audiences.rank_model_name,

        -- numbers
        cast(audiences.holdout_percent as double) as holdout_percent,
        cast(coalesce(member_counts.member_count, 0) as bigint) as member_count,
        cast(coalesce(member_counts.holdout_count, 0) as bigint) as holdout_count,
        cast(coalesce(member_counts.sendable_count, 0) as bigint) as sendable_count,

        -- dates
        {{ mailroom.as_of_date() }} as as_of_date
    from audiences
    left join member_counts
        on audiences.audience_id = member_counts.audience_id
)

select * from final
