{%- set checks = [
    ["campaign_id is null", "missing_key", "campaign_id"],
] + mailroom.timestamp_checks("raw_sent_at", "sent_at", required=false) + [
    ["campaign_type not in ('promotional', 'newsletter', 'triggered')", "unknown_campaign_type", "campaign_type"],
] -%}

with

source as (
    select * from {{ source('esp', 'esp_campaigns') }}
),

renamed as (
    select
        -- ids
        nullif(trim(campaign_id), '') as campaign_id,

        -- strings
        nullif(trim(campaign_name), '') as campaign_name,
        coalesce(lower(nullif(trim(campaign_type), '')), 'promotional') as campaign_type,
        nullif(trim(subject_line), '') as subject_line,
        nullif(trim(audience_id), '') as audience_id,

        -- timestamps
        {{ mailroom.to_utc('sent_at') }} as sent_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        sent_at as raw_sent_at,
        {{ mailroom.raw_columns(mailroom.source_columns('esp', 'esp_campaigns')) }}
    from source
),

checked as (
    select
        *,
        {{ mailroom.quarantine_reason(checks) }} as quarantine_reason,
        {{ mailroom.quarantine_column(checks) }} as quarantine_column
    from renamed
),

with_raw_row as (
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('esp', 'esp_campaigns')) }}
)

select
    *,
    {{ mailroom.version_rank('campaign_id') }} as version_rank
from with_raw_row
