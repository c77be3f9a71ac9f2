{%- set checks = [
    ["customer_id is null", "missing_key", "customer_id"],
] + mailroom.timestamp_checks("raw_updated_at", "updated_at", required=false)
  + mailroom.timestamp_checks("raw_created_at", "created_at", required=false) -%}

with

source as (
    select * from {{ source('shop', 'shop_customers') }}
),

renamed as (
    select
        -- ids
        nullif(trim(customer_id), '') as customer_id,

        -- strings
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        phone as raw_phone,
        {{ mailroom.normalize_name('first_name') }} as first_name,
        {{ mailroom.normalize_name('last_name') }} as last_name,
        {{ mailroom.country_code('country') }} as country_code,

        -- booleans
        {{ mailroom.parse_boolean('accepts_marketing') }} as accepts_marketing,

        -- timestamps
        {{ mailroom.to_utc('created_at') }} as created_at,
        {{ mailroom.to_utc('updated_at') }} as updated_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        created_at as raw_created_at,
        updated_at as raw_updated_at,
        {{ mailroom.raw_columns(mailroom.source_columns('shop', 'shop_customers')) }}
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
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('shop', 'shop_customers')) }}
),

ranked as (
    select
        *,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        {{ mailroom.version_rank('customer_id', version_expr="coalesce(updated_at, created_at)") }} as version_rank
    from with_raw_row
)

select * from ranked
