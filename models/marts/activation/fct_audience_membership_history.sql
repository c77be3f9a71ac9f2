{#- Every audience membership ever published: one row per audience, person
    and as-of date, holdout flag included, so that campaign results can later
    compare members who were sent to with members who were held out. Each
    build replaces the rows of its own as-of date (delete+insert on
    as_of_date); never rebuilt by --full-refresh; erased people are purged
    on every build. -#}
with

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

final as (
    select
        -- ids
        audience_id,
        person_id,

        -- strings
        exclusion_reason,

        -- numbers
        audience_rank,
        holdout_bucket,

        -- booleans
        is_holdout,
        is_sendable,
        -- eligibility, so that lift compares held-out and sent members who could both be sent to
        is_email_contactable,
        is_frequency_capped,

        -- dates
        as_of_date
    from memberships
)

select * from final
