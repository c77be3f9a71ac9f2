{%- set checks = [
    ["request_id is null", "missing_key", "request_id"],
    ["customer_id is null and email_raw_normalized is null", "missing_identifier", "email"],
    ["customer_id is null and email is null", "invalid_email", "email"],
] + mailroom.timestamp_checks("raw_requested_at", "requested_at") -%}

with

source as (
    select * from {{ source('privacy', 'privacy_erasure_requests') }}
),

renamed as (
    select
        -- ids
        nullif(trim(request_id), '') as request_id,
        nullif(trim(customer_id), '') as customer_id,

        -- strings
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,

        -- timestamps
        {{ mailroom.to_utc('requested_at') }} as requested_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        requested_at as raw_requested_at,
        {{ mailroom.raw_columns(mailroom.source_columns('privacy', 'privacy_erasure_requests')) }}
    from source
),

validated as (
    select
        *,
        case when {{ mailroom.is_valid_email('email_raw_normalized') }} then email_raw_normalized end as email
    from renamed
),

checked as (
    select
        *,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column
    from validated
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('privacy', 'privacy_erasure_requests')) }}
)

select
    *,
    {{ mailroom.email_match_key('email') }} as email_match_key,
    {{ mailroom.version_rank('request_id', latest=false, among_clean_only=true) }} as version_rank
from with_raw_row
