{#- One row per condition of a segment (seeds/segment_rules.csv), with the
    feature it reads: the metric, suffixed with its window when it has one
    (orders over 30 days is orders_30d). A person is in a segment when all of
    the segment's conditions hold. -#}
with

segment_rules as (
    select * from {{ ref('segment_rules') }}
),

final as (
    select
        -- ids
        segment_id,
        {{ mailroom.segment_rule_feature('metric', 'window_days') }} as feature_name,

        -- strings
        metric,
        trim(comparison) as comparison,

        -- numbers
        cast(nullif(trim(cast(window_days as {{ dbt.type_string() }})), '') as integer) as window_days,
        cast(threshold as double) as threshold
    from segment_rules
)

select * from final
