{#- One row per audience and e-mail the ESP should hold in that audience:
    members of fct_audience_memberships that are sendable (not in the
    holdout, contactable, under the frequency cap), with the e-mail of their
    profile in sync_esp__profiles. A member leaving an audience leaves this
    table and the sync removes them from it. Nothing here changes from one
    day to the next while membership holds (no rank, no run time): the sync
    sends changes only.

    Trigger audiences come from fct_trigger_audience_memberships (entered at
    the signal that put the person in), routine ones from
    fct_audience_memberships. A trigger batch (`mailroom trigger`) rebuilds
    the rows of the persons it touches. -#}
{{ mailroom.trigger_person_model_config() }}

with

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

trigger_memberships as (
    select * from {{ ref('fct_trigger_audience_memberships') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

audiences as (
    select * from {{ ref('audiences') }}
),

membership_history as (
    select * from {{ ref('fct_audience_membership_history') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

profiles as (
    select * from {{ ref('sync_esp__profiles') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

first_entries as (
    select
        audience_id,
        person_id,
        min(as_of_date) as first_as_of_date
    from membership_history
    group by 1, 2
),

sendable as (
    select
        memberships.audience_id,
        memberships.person_id,
        cast(coalesce(first_entries.first_as_of_date, memberships.as_of_date) as {{ dbt.type_timestamp() }}) as entered_at
    from memberships
    inner join audiences
        on memberships.audience_id = audiences.audience_id
    left join first_entries
        on
            memberships.audience_id = first_entries.audience_id
            and memberships.person_id = first_entries.person_id
    where memberships.is_sendable and audiences.lane = 'routine'

    union all

    select
        audience_id,
        person_id,
        triggered_at as entered_at
    from trigger_memberships
    where is_sendable
),

final as (
    select
        -- ids
        sendable.audience_id as audience_key,
        profiles.email,
        sendable.person_id,

        -- timestamps
        sendable.entered_at
    from sendable
    inner join profiles
        on sendable.person_id = profiles.person_id
)

select * from final
