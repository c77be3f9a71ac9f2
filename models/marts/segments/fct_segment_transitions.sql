{#- One row per change of a person's segments recorded by the segment_history
    snapshot: from which primary segment to which, and which segments the
    person entered and left. A person's first recorded state is an entry from
    'none'. -#}
with

segment_history as (
    select * from {{ ref('segment_history') }}
),

ordered as (
    select
        person_id,
        primary_segment_id,
        segment_ids,
        as_of_date,
        dbt_valid_from,
        lag(primary_segment_id) over (partition by person_id order by dbt_valid_from) as previous_primary_segment_id,
        lag(segment_ids) over (partition by person_id order by dbt_valid_from) as previous_segment_ids,
        lag(as_of_date) over (partition by person_id order by dbt_valid_from) as previous_as_of_date
    from segment_history
),

final as (
    select
        -- ids
        person_id,
        coalesce(previous_primary_segment_id, 'none') as from_segment_id,
        primary_segment_id as to_segment_id,

        -- strings
        coalesce(previous_segment_ids, '') as from_segment_ids,
        segment_ids as to_segment_ids,

        -- booleans
        previous_primary_segment_id is null as is_first_state,
        coalesce(previous_primary_segment_id, 'none') <> primary_segment_id as is_primary_change,

        -- dates
        previous_as_of_date as from_as_of_date,
        as_of_date as to_as_of_date,

        -- timestamps
        dbt_valid_from as transitioned_at
    from ordered
)

select * from final
