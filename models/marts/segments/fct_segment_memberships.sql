{#- One row per person and segment they are in, at the as-of date. Segments
    and their conditions are data (seeds/segments.csv, seeds/segment_rules.csv):
    each condition compares one point-in-time feature with a threshold, and a
    person is a member when every condition of the segment holds (a missing
    value, such as days since the last order of someone who never ordered,
    holds for no comparison). -#}
with

features as (
    select * from {{ ref('int_customers__features') }}
),

segment_rules as (
    select * from {{ ref('segment_rules') }}
),

segments as (
    select * from {{ ref('segments') }}
),

rules as (
    -- read from the seed itself (int_segments__rules validates it) so that
    -- unit tests run the shipped definitions
    select
        segment_id,
        {{ mailroom.segment_rule_feature('metric', 'window_days') }} as feature_name,
        trim(comparison) as comparison,
        cast(threshold as double) as threshold
    from segment_rules
),

rule_values as (
    select
        features.person_id,
        features.as_of_date,
        rules.segment_id,
        rules.comparison,
        rules.threshold,
        case rules.feature_name
            {%- for feature in mailroom.customer_feature_names() %}
                when '{{ feature }}' then cast(features.{{ feature }} as double)
            {%- endfor %}
        end as feature_value
    from features
    cross join rules
),

rule_results as (
    select
        person_id,
        as_of_date,
        segment_id,
        case comparison
            when '>' then feature_value > threshold
            when '>=' then feature_value >= threshold
            when '<' then feature_value < threshold
            when '<=' then feature_value <= threshold
            when '=' then feature_value = threshold
            when '!=' then feature_value <> threshold
        end as is_met
    from rule_values
),

members as (
    select
        person_id,
        as_of_date,
        segment_id
    from rule_results
    group by 1, 2, 3
    having min(case when is_met then 1 else 0 end) = 1
),

final as (
    select
        -- ids
        members.person_id,
        members.segment_id,

        -- numbers
        cast(segments.priority as integer) as segment_priority,

        -- booleans
        row_number() over (
            partition by members.person_id
            order by segments.priority, members.segment_id
        ) = 1 as is_primary,

        -- dates
        members.as_of_date
    from members
    inner join segments
        on members.segment_id = segments.segment_id
)

select * from final
