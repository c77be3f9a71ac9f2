{#- One row per record, with the identifiers the guardrails refused blanked
    (e-mail, its match key and local part; phone and its fragment): a
    placeholder e-mail or a shared phone gives the probabilistic step no
    evidence and never survives into the golden record. -#}
with

records as (
    select * from {{ ref('int_identity__records') }}
),

identifier_checks as (
    select * from {{ ref('int_identity__identifier_checks') }}
),

refused_emails as (
    select identifier_value
    from identifier_checks
    where identifier_type = 'email' and refusal_reason is not null
),

refused_phones as (
    select identifier_value
    from identifier_checks
    where identifier_type = 'phone' and refusal_reason is not null
),

final as (
    select
        -- ids
        records.node_id,
        records.node_label,
        records.source_table,

        -- usable identifiers
        case when refused_emails.identifier_value is null then records.email end as email,
        case when refused_emails.identifier_value is null then records.email_match_key end as email_match_key,
        case when refused_emails.identifier_value is null then records.email_local_key end as email_local_key,
        case when refused_phones.identifier_value is null then records.phone_e164 end as phone_e164,
        case when refused_phones.identifier_value is null then records.phone_suffix end as phone_suffix,

        -- attributes and comparison keys
        records.first_name,
        records.last_name,
        records.street,
        records.address_line_2,
        records.postcode,
        records.city,
        records.region,
        records.country_code,
        records.birth_date,
        records.first_name_key,
        records.last_name_key,
        records.street_number,
        records.street_name_key,
        records.city_key,
        records.postcode_key,

        -- timestamps
        records.created_at,
        records.updated_at
    from records
    left join refused_emails
        on records.email_match_key = refused_emails.identifier_value
    left join refused_phones
        on records.phone_e164 = refused_phones.identifier_value
)

select * from final
