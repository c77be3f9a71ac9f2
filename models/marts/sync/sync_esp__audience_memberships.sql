{#- One row per audience and e-mail the ESP should hold in that audience:
    members of fct_audience_memberships that are sendable (not in the
    holdout, contactable, under the frequency cap), with the e-mail of their
    profile in sync_esp__profiles. A member leaving an audience leaves this
    table and the sync removes them from it. Nothing here changes from one
    day to the next while membership holds (no rank, no run time): the sync
    sends changes only. -#}
with

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

membership_history as (
    select * from {{ ref('fct_audience_membership_history') }}
),

profiles as (
    select * from {{ ref('sync_esp__profiles') }}
),

first_entries as (
    select
        audience_id,
        person_id,
        min(as_of_date) as first_as_of_date
    from membership_history
    group by 1, 2
),

final as (
    select
        -- ids
        memberships.audience_id as audience_key,
        profiles.email,
        memberships.person_id,

        -- timestamps
        cast(coalesce(first_entries.first_as_of_date, memberships.as_of_date) as timestamp) as entered_at
    from memberships
    inner join profiles
        on memberships.person_id = profiles.person_id
    left join first_entries
        on
            memberships.audience_id = first_entries.audience_id
            and memberships.person_id = first_entries.person_id
    where memberships.is_sendable
)

select * from final
