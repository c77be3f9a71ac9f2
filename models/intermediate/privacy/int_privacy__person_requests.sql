{#- One row per person and privacy request reaching them: consent events of
    every channel and purpose, and erasure requests. A request names a person
    by a shop account id or by an e-mail; it reaches every person one of whose
    records carries that account or e-mail (a request naming a person both ways
    counts once). Built on the identity clusters before anyone is erased, so an
    erasure finds every record of the person. -#}
with

screened_records as (
    select * from {{ ref('int_identity__screened_records') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

consent_events as (
    select * from {{ ref('stg_privacy__consent_events') }}
),

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
),

person_keys as (
    -- the e-mails and shop accounts a privacy request can name a person by
    select distinct
        clusters.person_id,
        'email' as key_type,
        screened_records.email_match_key as key_value
    from screened_records
    inner join clusters
        on screened_records.node_id = clusters.node_id
    where screened_records.email_match_key is not null

    union all

    select
        person_id,
        'customer_id' as key_type,
        source_record_id as key_value
    from clusters
    where source_table = 'shop_customers'
),

requests as (
    select
        consent_event_id as request_id,
        'consent' as request_type,
        channel,
        purpose,
        customer_id,
        email_match_key,
        is_granted,
        event_at as requested_at
    from consent_events

    union all

    select
        request_id,
        'erasure' as request_type,
        cast(null as {{ dbt.type_string() }}) as channel,
        cast(null as {{ dbt.type_string() }}) as purpose,
        customer_id,
        email_match_key,
        false as is_granted,
        requested_at
    from erasure_requests
),

request_keys as (
    select
        request_id,
        request_type,
        channel,
        purpose,
        is_granted,
        requested_at,
        'customer_id' as key_type,
        customer_id as key_value
    from requests
    where customer_id is not null

    union all

    select
        request_id,
        request_type,
        channel,
        purpose,
        is_granted,
        requested_at,
        'email' as key_type,
        email_match_key as key_value
    from requests
    where email_match_key is not null
),

final as (
    select distinct
        -- ids
        person_keys.person_id,
        request_keys.request_id,

        -- strings
        request_keys.request_type,
        request_keys.channel,
        request_keys.purpose,

        -- booleans
        request_keys.is_granted,

        -- timestamps
        request_keys.requested_at
    from request_keys
    inner join person_keys
        on
            request_keys.key_type = person_keys.key_type
            and request_keys.key_value = person_keys.key_value
)

select * from final
