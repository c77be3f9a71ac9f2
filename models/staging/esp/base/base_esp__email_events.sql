{%- set event_types = ['send', 'delivered', 'open', 'click', 'bounce', 'spam_complaint', 'unsubscribe', 'holdout'] -%}
{%- set checks = [
    ["event_id is null", "missing_key", "event_id"],
] + mailroom.timestamp_checks("raw_event_at", "event_at") + [
    ["event_type not in ('" ~ event_types | join("', '") ~ "')", "unknown_event_type", "event_type"],
] -%}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_batch_key',
    on_schema_change='append_new_columns',
    post_hook="{{ mailroom.incremental_delete_removed(source('esp', 'esp_email_events'), 'event_id') }}",
) }}

with

source as (
    select * from {{ source('esp', 'esp_email_events') }}
    {%- if is_incremental() %}
    -- an incremental run re-computes only the keys with new rows (macro incremental_batch_keys)
    where {{ mailroom.incremental_batch_key('event_id') }} in (
        {{ mailroom.incremental_batch_keys(source('esp', 'esp_email_events'), 'event_id') }}
    )
    {%- endif %}
),

renamed as (
    select
        -- ids
        nullif(trim(event_id), '') as event_id,
        nullif(trim(subscriber_id), '') as subscriber_id,
        nullif(trim(campaign_id), '') as campaign_id,

        -- strings
        {{ mailroom.normalize_email('email') }} as email_raw_normalized,
        lower(trim(event_type)) as event_type,
        nullif(trim(variant), '') as variant,
        nullif(trim(url), '') as url,
        lower(nullif(trim(bounce_type), '')) as bounce_type,
        nullif(trim(user_agent), '') as user_agent,

        -- timestamps
        {{ mailroom.to_utc('event_at') }} as event_at,
        {{ mailroom.to_utc('received_at') }} as received_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        event_at as raw_event_at,
        {{ mailroom.raw_columns(mailroom.source_columns('esp', 'esp_email_events')) }}
    from source
),

checked as (
    select
        *,
        case when {{ mailroom.is_valid_email('email_raw_normalized') }} then email_raw_normalized end as email,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column,
        {{ mailroom.incremental_columns('event_id') }}
    from renamed
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('esp', 'esp_email_events')) }}
)

select
    *,
    -- at-least-once delivery: keep the first delivery of an event
    {{ mailroom.version_rank('event_id', version_expr="coalesce(received_at, _loaded_at)", latest=false, among_clean_only=true) }} as version_rank
from with_raw_row
