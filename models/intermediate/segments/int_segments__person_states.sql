{#- One row per person: their primary segment and all their segments at the
    as-of date, the state the segment history snapshot records. -#}
with

features as (
    select * from {{ ref('int_customers__features') }}
),

memberships as (
    select * from {{ ref('fct_segment_memberships') }}
),

person_segments as (
    select
        person_id,
        max(case when is_primary then segment_id end) as primary_segment_id,
        {{ dbt.listagg('segment_id', "'|'", 'order by segment_id') }} as segment_ids
    from memberships
    group by 1
),

final as (
    select
        -- ids
        features.person_id,
        coalesce(person_segments.primary_segment_id, 'none') as primary_segment_id,

        -- strings
        coalesce(person_segments.segment_ids, '') as segment_ids,

        -- dates
        features.as_of_date
    from features
    left join person_segments
        on features.person_id = person_segments.person_id
)

select * from final
