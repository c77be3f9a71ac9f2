{#- One row per e-mail address of an erased person: the ESP must delete each
    permanently (GDPR erasure). A person may be known to the ESP by any of
    their addresses (the profile upserted used the golden record's, an older
    subscription another), so every address on any of their records and in
    their requests is deleted. The only mart still holding an erased person's
    e-mail, since the ESP can only be told whom to delete by it; the sync
    sends each deletion once and records it acknowledged (by a hash of the
    address) in sync_state.

    An erasure request landed since the last routine build reaches it
    through the trigger lane (int_trigger__signals): the request's own
    address, the person's golden e-mail from the last routine build and the
    addresses of their signals in the same rows. The next routine build
    finds every address (the rule above). -#}
{{ config(tags=['trigger']) }}

with

erased_persons as (
    select * from {{ ref('int_privacy__erased_persons') }}
),

person_requests as (
    select * from {{ ref('int_privacy__person_requests') }}
),

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

screened_records as (
    select * from {{ ref('int_identity__screened_records') }}
),

signals as (
    select * from {{ ref('int_trigger__signals') }}
),

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

trigger_erasures as (
    select
        person_id,
        min(signal_at) as erasure_requested_at
    from signals
    where signal_type = 'erasure'
    group by 1
),

addresses as (
    select
        erased_persons.person_id,
        erased_persons.erasure_requested_at,
        screened_records.email
    from erased_persons
    inner join clusters
        on erased_persons.person_id = clusters.person_id
    inner join screened_records
        on clusters.node_id = screened_records.node_id
    where screened_records.email is not null

    union all

    select
        erased_persons.person_id,
        erased_persons.erasure_requested_at,
        erasure_requests.email
    from erased_persons
    inner join person_requests
        on
            erased_persons.person_id = person_requests.person_id
            and person_requests.request_type = 'erasure'
    inner join erasure_requests
        on person_requests.request_id = erasure_requests.request_id
    where erasure_requests.email is not null

    union all

    select
        trigger_erasures.person_id,
        trigger_erasures.erasure_requested_at,
        signals.email
    from trigger_erasures
    inner join signals
        on trigger_erasures.person_id = signals.person_id
    where signals.email is not null

    union all

    select
        trigger_erasures.person_id,
        trigger_erasures.erasure_requested_at,
        golden_records.email
    from trigger_erasures
    inner join golden_records
        on trigger_erasures.person_id = golden_records.person_id
    where golden_records.email is not null
),

final as (
    select
        -- ids
        {{ mailroom.normalize_email('email') }} as email,

        -- strings
        'erasure' as reason,

        -- timestamps
        erasure_requested_at as requested_at
    from addresses
    -- an address no mail system accepts cannot be at the ESP
    where {{ mailroom.is_valid_email(mailroom.normalize_email('email')) }}
    qualify row_number() over (
        partition by {{ mailroom.normalize_email('email') }}
        order by erasure_requested_at asc, person_id asc
    ) = 1
)

select * from final
