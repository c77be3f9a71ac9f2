{%- set checks = [
    ["subscriber_id is null", "missing_key", "subscriber_id"],
    ["email is null", "invalid_email", "email"],
] + mailroom.timestamp_checks("raw_updated_at", "updated_at", required=false)
  + mailroom.timestamp_checks("raw_created_at", "created_at", required=false) + [
    ["status not in ('subscribed', 'unsubscribed', 'cleaned', 'pending')", "unknown_status", "status"],
] -%}

with

source as (
    select * from {{ source('esp', 'esp_subscribers') }}
),

renamed as (
    select
        -- ids
        nullif(trim(subscriber_id), '') as subscriber_id,

        -- strings
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        {{ mailroom.normalize_name('first_name') }} as first_name,
        {{ mailroom.normalize_name('last_name') }} as last_name,
        coalesce(lower(nullif(trim(status), '')), 'subscribed') as status,
        lower(nullif(trim(signup_source), '')) as signup_source,

        -- timestamps
        {{ mailroom.to_utc('created_at') }} as created_at,
        {{ mailroom.to_utc('updated_at') }} as updated_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        created_at as raw_created_at,
        updated_at as raw_updated_at,
        {{ mailroom.raw_columns(mailroom.source_columns('esp', 'esp_subscribers')) }}
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
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('esp', 'esp_subscribers')) }}
),

ranked as (
    select
        *,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        {{ mailroom.version_rank('subscriber_id', version_expr="coalesce(updated_at, created_at)") }} as version_rank
    from with_raw_row
)

select * from ranked
