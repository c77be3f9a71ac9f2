{#- One row per erased person: the ESP must delete them permanently
    (GDPR erasure). The only place an erased person's e-mail remains in the
    marts, because the ESP can only be told whom to delete by it; the sync
    sends each deletion once and records it acknowledged (by a hash of the
    e-mail) in sync_state. -#}
with

erased_persons as (
    select * from {{ ref('int_privacy__erased_persons') }}
),

final as (
    select
        -- ids
        lower(trim(deletion_email)) as email,

        -- strings
        'erasure' as reason,

        -- timestamps
        erasure_requested_at as requested_at
    from erased_persons
    where deletion_email is not null
    qualify row_number() over (
        partition by lower(trim(deletion_email))
        order by erasure_requested_at asc, person_id asc
    ) = 1
)

select * from final
