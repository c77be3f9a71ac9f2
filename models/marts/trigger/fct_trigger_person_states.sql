{#- One row per person with a trigger signal: the latest of each kind of
    activity the trigger audiences read (product view, cart addition, order,
    sign-up, subscription, consent, suppression, erasure) and the person's
    latest e-mail and first name seen in a signal.

    Every column is a minimum, a maximum or the value of the latest signal,
    so merging a batch's signals into the kept rows gives what one pass over
    all the signals gives: a trigger batch (macro is_trigger_batch) merges the
    rows of the persons it has signals for (delete+insert by person); every
    other build computes the table from all signals. An erased person's row
    keeps only their ids and erased_at (their e-mail, name and products are
    dropped), until the next routine build removes it. -#}
{{ config(
    materialized=mailroom.trigger_materialized(),
    on_schema_change='append_new_columns',
    incremental_strategy='delete+insert',
    unique_key='person_id',
    tags=['trigger'],
) }}

{%- set state_columns = [
    'person_id', 'is_provisional', 'email', 'email_seen_at', 'first_name', 'first_name_seen_at',
    'signed_up_at', 'subscribed_at', 'last_product_view_at', 'last_viewed_product_id',
    'last_cart_add_at', 'last_cart_product_id', 'last_order_at', 'last_suppressed_at',
    'consent_status', 'consent_updated_at', 'erased_at', 'loaded_until',
] %}

with

signals as (
    select * from {{ ref('int_trigger__signals') }}
),

signal_rows as (
    -- each signal as a state row of its own
    select
        person_id,
        is_provisional,
        email,
        case when email is not null then signal_at end as email_seen_at,
        first_name,
        case when first_name is not null then signal_at end as first_name_seen_at,
        case when signal_type in ('signup', 'subscription') or consent_status = 'granted' then signal_at end as signed_up_at,
        case when signal_type = 'subscription' then signal_at end as subscribed_at,
        case when signal_type = 'product_view' then signal_at end as last_product_view_at,
        case when signal_type = 'product_view' then product_id end as last_viewed_product_id,
        case when signal_type = 'cart_add' then signal_at end as last_cart_add_at,
        case when signal_type = 'cart_add' then product_id end as last_cart_product_id,
        case when signal_type = 'order' then signal_at end as last_order_at,
        case when signal_type = 'suppression' then signal_at end as last_suppressed_at,
        consent_status,
        case when consent_status is not null then signal_at end as consent_updated_at,
        case when signal_type = 'erasure' then signal_at end as erased_at,
        _loaded_at as loaded_until
    from signals
),

combined as (
    select * from signal_rows
    {%- if is_incremental() %}

    union all

    -- the kept rows of the persons with new signals
    select {{ state_columns | join(', ') }}
    from {{ this }}
    where person_id in (select person_id from signal_rows)
    {%- endif %}
),

merged as (
    select
        person_id,
        max(case when is_provisional then 1 else 0 end) = 1 as is_provisional,
        {{ mailroom.latest_value('email', 'email_seen_at') }} as email,
        max(email_seen_at) as email_seen_at,
        {{ mailroom.latest_value('first_name', 'first_name_seen_at') }} as first_name,
        max(first_name_seen_at) as first_name_seen_at,
        min(signed_up_at) as signed_up_at,
        min(subscribed_at) as subscribed_at,
        max(last_product_view_at) as last_product_view_at,
        {{ mailroom.latest_value('last_viewed_product_id', 'last_product_view_at') }} as last_viewed_product_id,
        max(last_cart_add_at) as last_cart_add_at,
        {{ mailroom.latest_value('last_cart_product_id', 'last_cart_add_at') }} as last_cart_product_id,
        max(last_order_at) as last_order_at,
        max(last_suppressed_at) as last_suppressed_at,
        -- the latest consent decides; at the same moment a withdrawal wins
        {{ mailroom.latest_value('consent_status', 'consent_updated_at') }} as consent_status,
        max(consent_updated_at) as consent_updated_at,
        max(erased_at) as erased_at,
        max(loaded_until) as loaded_until
    from combined
    group by 1
),

final as (
    select
        -- ids
        person_id,
        case when erased_at is null then last_viewed_product_id end as last_viewed_product_id,
        case when erased_at is null then last_cart_product_id end as last_cart_product_id,

        -- strings
        case when erased_at is null then email end as email,
        case when erased_at is null then first_name end as first_name,
        consent_status,

        -- booleans
        is_provisional,

        -- timestamps
        email_seen_at,
        first_name_seen_at,
        signed_up_at,
        subscribed_at,
        last_product_view_at,
        last_cart_add_at,
        last_order_at,
        last_suppressed_at,
        consent_updated_at,
        erased_at,
        loaded_until,
        {{ mailroom.trigger_now() }} as evaluated_at
    from merged
)

select * from final
