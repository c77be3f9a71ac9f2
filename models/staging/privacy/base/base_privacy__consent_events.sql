{%- set checks = [
    ["consent_event_id is null", "missing_key", "consent_event_id"],
    ["customer_id is null and email_raw_normalized is null", "missing_identifier", "email"],
    ["customer_id is null and email is null", "invalid_email", "email"],
] + mailroom.timestamp_checks("raw_event_at", "event_at") + [
    ["status not in ('granted', 'withdrawn')", "unknown_status", "status"],
    ["channel not in ('email', 'sms', 'push')", "unknown_channel", "channel"],
] -%}

with

source as (
    select * from {{ source('privacy', 'privacy_consent_events') }}
),

renamed as (
    select
        -- ids
        nullif(trim(consent_event_id), '') as consent_event_id,
        nullif(trim(customer_id), '') as customer_id,

        -- strings
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        lower(trim(channel)) as channel,
        coalesce(lower(nullif(trim(purpose), '')), 'marketing') as purpose,
        lower(trim(status)) as status,
        lower(nullif(trim(collected_by), '')) as collected_by,

        -- timestamps
        {{ mailroom.to_utc('event_at') }} as event_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        event_at as raw_event_at,
        {{ mailroom.raw_columns(mailroom.source_columns('privacy', 'privacy_consent_events')) }}
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
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('privacy', 'privacy_consent_events')) }}
)

select
    *,
    {{ mailroom.email_match_key('email') }} as email_match_key,
    {{ mailroom.version_rank('consent_event_id', latest=false, among_clean_only=true) }} as version_rank
from with_raw_row
