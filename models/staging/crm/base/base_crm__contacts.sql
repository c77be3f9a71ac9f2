{%- set checks = [
    ["contact_id is null", "missing_key", "contact_id"],
] + mailroom.timestamp_checks("raw_updated_at", "updated_at", required=false)
  + mailroom.timestamp_checks("raw_created_at", "created_at", required=false) -%}

with

source as (
    select * from {{ source('crm', 'crm_contacts') }}
),

renamed as (
    select
        -- ids
        nullif(trim(contact_id), '') as contact_id,

        -- strings
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        phone as raw_phone,
        {{ mailroom.normalize_name('first_name') }} as first_name,
        {{ mailroom.normalize_name('last_name') }} as last_name,
        {{ mailroom.regex_replace_all("nullif(trim(street), '')", '[[:space:]]+', ' ') }} as street,
        {{ mailroom.regex_replace_all("nullif(trim(address_line_2), '')", '[[:space:]]+', ' ') }} as address_line_2,
        {{ mailroom.normalize_name('city') }} as city,
        -- kept as typed, not re-cased like city: regions are often codes (CA, NSW)
        {{ mailroom.regex_replace_all("nullif(trim(region), '')", '[[:space:]]+', ' ') }} as region,
        upper({{ mailroom.regex_replace_all("nullif(trim(postcode), '')", '[[:space:]]+', ' ') }}) as postcode,
        {{ mailroom.country_code('country') }} as country_code,

        -- dates (impossible birth dates are dropped, not the contact)
        case
            when {{ mailroom.parse_date('birth_date') }} between cast('1900-01-01' as date) and cast({{ mailroom.as_of_timestamp() }} as date)
                then {{ mailroom.parse_date('birth_date') }}
        end as birth_date,

        -- timestamps
        -- CRM exports write wall-clock time without a zone (var crm_export_timezone)
        {{ mailroom.to_utc('created_at', var('crm_export_timezone')) }} as created_at,
        {{ mailroom.to_utc('updated_at', var('crm_export_timezone')) }} as updated_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        created_at as raw_created_at,
        updated_at as raw_updated_at,
        {{ mailroom.raw_columns(mailroom.source_columns('crm', 'crm_contacts')) }}
    from source
),

checked as (
    select
        *,
        case when {{ mailroom.is_valid_email('email_raw_normalized') }} then email_raw_normalized end as email,
        {{ mailroom.normalize_phone('raw_phone', mailroom.calling_code('renamed.country_code')) }} as phone_e164,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column
    from renamed
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('crm', 'crm_contacts')) }}
),

ranked as (
    select
        *,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        {{ mailroom.version_rank('contact_id', version_expr="coalesce(updated_at, created_at)") }} as version_rank
    from with_raw_row
)

select * from ranked
