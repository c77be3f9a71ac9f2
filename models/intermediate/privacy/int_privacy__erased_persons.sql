{#- One row per person an erasure request reaches: the privacy ledger. Every
    model that carries person data leaves these people out (macro
    `not_erased`), and `sync_esp__deletions` tells the ESP to delete them.
    `deletion_email` is the address the ESP knows them by: the e-mail of their
    newest ESP subscriber record, else the newest e-mail on any of their
    records, else the e-mail the request named. -#}
with

person_requests as (
    select * from {{ ref('int_privacy__person_requests') }}
),

screened_records as (
    select * from {{ ref('int_identity__screened_records') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
),

erasures as (
    select
        person_id,
        min(requested_at) as erasure_requested_at,
        count(distinct request_id) as request_count,
        min(request_id) as first_request_id
    from person_requests
    where request_type = 'erasure'
    group by 1
),

known_emails as (
    select
        clusters.person_id,
        screened_records.email
    from screened_records
    inner join clusters
        on screened_records.node_id = clusters.node_id
    inner join erasures
        on clusters.person_id = erasures.person_id
    where screened_records.email is not null
    qualify row_number() over (
        partition by clusters.person_id
        order by
            case when screened_records.source_table = 'esp_subscribers' then 0 else 1 end asc,
            screened_records.updated_at desc nulls last,
            screened_records.created_at desc nulls last,
            screened_records.email asc
    ) = 1
),

final as (
    select
        -- ids
        erasures.person_id,
        erasures.first_request_id,

        -- strings
        coalesce(known_emails.email, erasure_requests.email) as deletion_email,

        -- numbers
        erasures.request_count,

        -- timestamps
        erasures.erasure_requested_at
    from erasures
    left join known_emails
        on erasures.person_id = known_emails.person_id
    left join erasure_requests
        on erasures.first_request_id = erasure_requests.request_id
)

select * from final
