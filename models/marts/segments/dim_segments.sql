with

segments as (
    select * from {{ ref('segments') }}
),

rules as (
    select * from {{ ref('int_segments__rules') }}
),

memberships as (
    select * from {{ ref('fct_segment_memberships') }}
),

features as (
    select * from {{ ref('int_customers__features') }}
),

definitions as (
    select
        segment_id,
        {{ dbt.listagg(
            "feature_name || ' ' || comparison || ' ' || cast(threshold as " ~ dbt.type_string() ~ ")",
            "' and '",
            "order by feature_name"
        ) }} as definition,
        count(*) as condition_count
    from rules
    group by 1
),

member_counts as (
    select
        segment_id,
        count(*) as member_count,
        sum(case when is_primary then 1 else 0 end) as primary_member_count
    from memberships
    group by 1
),

population as (
    select count(*) as person_count from features
),

final as (
    select
        -- ids
        segments.segment_id,

        -- strings
        segments.segment_name,
        segments.description,
        definitions.definition,

        -- numbers
        cast(segments.priority as integer) as priority,
        cast(coalesce(definitions.condition_count, 0) as integer) as condition_count,
        cast(coalesce(member_counts.member_count, 0) as bigint) as member_count,
        cast(coalesce(member_counts.primary_member_count, 0) as bigint) as primary_member_count,
        cast(
            1.0 * coalesce(member_counts.member_count, 0) / nullif(population.person_count, 0) as double
        ) as member_share
    from segments
    cross join population
    left join definitions
        on segments.segment_id = definitions.segment_id
    left join member_counts
        on segments.segment_id = member_counts.segment_id
)

select * from final
