{#- One row per record the probabilistic step can compare: records with a
    name. Keys built from refused identifiers (a placeholder e-mail's local
    part, an over-shared phone) are blanked so that they give no evidence. -#}
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
        records.node_id,
        records.node_label,
        records.first_name_key,
        records.last_name_key,
        records.birth_date,
        records.street_key,
        records.postcode_key,
        case when refused_emails.identifier_value is null then records.email_local_key end as email_local_key,
        case when refused_phones.identifier_value is null then records.phone_suffix end as phone_suffix
    from records
    left join refused_emails
        on records.email_match_key = refused_emails.identifier_value
    left join refused_phones
        on records.phone_e164 = refused_phones.identifier_value
    where records.first_name_key is not null or records.last_name_key is not null
)

select * from final
