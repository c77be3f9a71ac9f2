{#- One row per audience and qualifying person at the as-of date. Audiences
    are rows of seeds/audiences.csv: a person qualifies for a routine audience
    when they are in its segment and have its model tier (each when set), for
    a trigger audience when fct_trigger_audience_memberships has them. A stable hash of
    audience and person puts holdout_percent of members in the holdout
    (control) group: the same person stays in or out of an audience's holdout
    on every run, and it is recorded here (and day by day in
    fct_audience_membership_history) for measuring lift later. Members are
    sent to the ESP (is_sendable) unless held out, not contactable or at the
    frequency cap. -#}
with

audiences as (
    select * from {{ ref('audiences') }}
),

person_attributes as (
    select * from {{ ref('int_activation__person_attributes') }}
),

send_preferences as (
    select * from {{ ref('fct_send_preferences') }}
),

scores as (
    select * from {{ ref('fct_propensity_scores') }}
),

trigger_memberships as (
    select * from {{ ref('fct_trigger_audience_memberships') }}
),

qualified as (
    select
        audiences.audience_id,
        audiences.rank_model_name,
        audiences.holdout_percent,
        person_attributes.person_id,
        person_attributes.is_email_contactable,
        {{ mailroom.hash_bucket("audiences.audience_id || '|' || person_attributes.person_id") }} as holdout_bucket
    from audiences
    inner join person_attributes
        on
            (
                audiences.segment_id is null
                or person_attributes.segment_ids like '%|' || audiences.segment_id || '|%'
            )
            and (
                audiences.model_name is null
                or person_attributes.model_tiers like '%|' || audiences.model_name || ':' || audiences.tier || '|%'
            )
    where audiences.lane = 'routine'

    union all

    select
        audiences.audience_id,
        audiences.rank_model_name,
        audiences.holdout_percent,
        trigger_memberships.person_id,
        trigger_memberships.is_email_contactable,
        trigger_memberships.holdout_bucket
    from audiences
    inner join trigger_memberships
        on audiences.audience_id = trigger_memberships.audience_id
    inner join person_attributes
        on trigger_memberships.person_id = person_attributes.person_id
),

final as (
    select
        -- ids
        qualified.audience_id,
        qualified.person_id,

        -- strings
        {{ mailroom.audience_exclusion_reason(
            'qualified.holdout_bucket',
            'qualified.holdout_percent',
            'qualified.is_email_contactable',
            'coalesce(send_preferences.is_frequency_capped, false)',
        ) }} as exclusion_reason,

        -- numbers
        row_number() over (
            partition by qualified.audience_id
            order by scores.score desc nulls last, qualified.person_id asc
        ) as audience_rank,
        scores.score as rank_score,
        qualified.holdout_bucket,

        -- booleans
        {{ mailroom.audience_is_holdout('qualified.holdout_bucket', 'qualified.holdout_percent') }} as is_holdout,
        qualified.is_email_contactable,
        coalesce(send_preferences.is_frequency_capped, false) as is_frequency_capped,
        {{ mailroom.audience_is_sendable(
            'qualified.holdout_bucket',
            'qualified.holdout_percent',
            'qualified.is_email_contactable',
            'coalesce(send_preferences.is_frequency_capped, false)',
        ) }} as is_sendable,

        -- dates
        {{ mailroom.as_of_date() }} as as_of_date
    from qualified
    left join send_preferences
        on qualified.person_id = send_preferences.person_id
    left join scores
        on
            qualified.person_id = scores.person_id
            and qualified.rank_model_name = scores.model_name
)

select * from final
