with

base as (
    select * from {{ ref('base_crm__contacts') }}
),

final as (
    select
        -- ids
        contact_id,

        -- strings
        email,
        email_match_key,
        email_raw_normalized is not null and email is null as has_invalid_email,
        phone_e164,
        first_name,
        last_name,
        street,
        address_line_2,
        city,
        region,
        postcode,
        country_code,

        -- dates
        birth_date,

        -- timestamps
        created_at,
        coalesce(updated_at, created_at) as updated_at,
        _loaded_at
    from base
    where quarantine_reason is null and version_rank = 1
)

select * from final
