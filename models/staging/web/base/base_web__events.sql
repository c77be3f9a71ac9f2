{%- set event_types = ['page_view', 'product_view', 'add_to_cart', 'checkout', 'identify', 'signup'] -%}
{%- set checks = [
    ["event_id is null", "missing_key", "event_id"],
] + mailroom.timestamp_checks("raw_event_at", "event_at") + [
    ["event_type not in ('" ~ event_types | join("', '") ~ "')", "unknown_event_type", "event_type"],
    ["not " ~ mailroom.is_valid_json("raw_properties"), "malformed_json", "properties"],
] -%}

{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='_batch_key',
    on_schema_change='append_new_columns',
    post_hook="{{ mailroom.incremental_delete_removed(source('web', 'web_events'), 'event_id') }}",
) }}

with

source as (
    select * from {{ source('web', 'web_events') }}
    {%- if is_incremental() %}
    -- an incremental run re-computes only the keys with new rows (macro incremental_batch_keys)
    where {{ mailroom.incremental_batch_key('event_id') }} in (
        {{ mailroom.incremental_batch_keys(source('web', 'web_events'), 'event_id') }}
    )
    {%- endif %}
),

renamed as (
    select
        -- ids
        nullif(trim(event_id), '') as event_id,
        nullif(trim(anonymous_id), '') as anonymous_id,
        nullif(trim(user_id), '') as customer_id,

        -- strings
        lower(trim(event_type)) as event_type,
        nullif(trim(page_url), '') as page_url,
        {{ mailroom.json_field('properties', 'product_id') }} as product_id,
        {{ mailroom.json_field('properties', 'category') }} as product_category,
        {{ mailroom.parse_decimal(mailroom.json_field('properties', 'price')) }} as product_price,
        {{ mailroom.json_field('properties', 'order_id') }} as order_id,
        {{ mailroom.normalize_email(mailroom.json_field('properties', 'email')) }} as email_raw_normalized,

        -- timestamps
        {{ mailroom.to_utc('event_at') }} as event_at,
        {{ mailroom.to_utc('received_at') }} as received_at,
        _loaded_at,

        -- raw values for checks and the quarantine
        event_at as raw_event_at,
        properties as raw_properties,
        {{ mailroom.raw_columns(mailroom.source_columns('web', 'web_events')) }}
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
    {{ mailroom.select_with_raw_row('checked', mailroom.source_columns('web', 'web_events')) }}
),

ranked as (
    select
        *,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        -- at-least-once delivery: keep the first delivery of an event
        {{ mailroom.version_rank('event_id', version_expr="coalesce(received_at, _loaded_at)", latest=false, among_clean_only=true) }} as version_rank
    from with_raw_row
)

select * from ranked
