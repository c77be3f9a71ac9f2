{#- The contract of the sync marts: every profile and audience member is a
    person in dim_customers, or a new person of the trigger lane
    (fct_trigger_person_states), whose e-mail marketing is contactable (macro
    trigger_contactable), with that e-mail; no erased person's address is
    upserted. Returns the offending rows. -#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

states as (
    select * from {{ ref('fct_trigger_person_states') }}
),

profiles as (
    select * from {{ ref('sync_esp__profiles') }}
),

memberships as (
    select * from {{ ref('sync_esp__audience_memberships') }}
),

deletions as (
    select * from {{ ref('sync_esp__deletions') }}
),

synced as (
    select
        'sync_esp__profiles' as mart,
        person_id,
        email
    from profiles

    union all

    select
        'sync_esp__audience_memberships' as mart,
        person_id,
        email
    from memberships
),

final as (
    select
        synced.mart,
        synced.person_id,
        case
            when customers.person_id is null and states.person_id is null then 'not a person'
            when not {{ mailroom.trigger_contactable('states', 'customers') }} then 'not contactable'
            when synced.email != coalesce(customers.email, states.email) then 'not their e-mail'
            when deletions.email is not null then 'erased'
        end as failure
    from synced
    left join customers
        on synced.person_id = customers.person_id
    left join states
        on synced.person_id = states.person_id
    left join deletions
        on synced.email = deletions.email
)

select * from final
where failure is not null
