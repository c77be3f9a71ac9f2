{#- One row per landed row that matters to a trigger audience, with its person.
    In a trigger batch (macro is_trigger_batch), only the rows landed in the
    batch's window (macro trigger_window); in every other build, all of them,
    so that fct_trigger_person_states built in full equals the same rows
    merged batch by batch.

    Signals: a product view, cart addition or sign-up (web), an ESP
    subscription, an order, an e-mail marketing consent given or withdrawn, a
    suppression (unsubscribe, spam complaint, hard bounce, an ESP status
    unsubscribed or cleaned) and an erasure request. Other web events
    that carry an identifier (identify, checkout) only tie a device to an
    e-mail.

    The person is the last identity resolution's (int_identity__identifier_persons):
    by shop account, then device, then e-mail. A row none of whose identifiers
    is known gets a provisional person, named by a hash of its e-mail (or the
    e-mail the device typed in the same batch), else of its device or
    account; the next routine build resolves it properly. Rows of erased
    persons are left out. -#}
{{ config(tags=['trigger']) }}
{%- set web_types = {
    'product_view': 'product_view',
    'add_to_cart': 'cart_add',
    'signup': 'signup',
    'identify': 'identify',
    'checkout': 'identify',
} -%}
with

web_events as (
    select * from {{ ref('stg_web__events') }}
    where {{ mailroom.trigger_window('_loaded_at') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
    where {{ mailroom.trigger_window('_loaded_at') }}
),

subscribers as (
    select * from {{ ref('stg_esp__subscribers') }}
    where {{ mailroom.trigger_window('_loaded_at') }}
),

email_events as (
    select * from {{ ref('stg_esp__email_events') }}
    where {{ mailroom.trigger_window('_loaded_at') }}
),

consent_events as (
    select * from {{ ref('stg_privacy__consent_events') }}
    where {{ mailroom.trigger_window('_loaded_at') }}
),

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
    where {{ mailroom.trigger_window('_loaded_at') }}
),

identifier_persons as (
    select * from {{ ref('int_identity__identifier_persons') }}
),

landed as (
    select
        'web_events' as source_table,
        event_id as source_record_id,
        case event_type
            {%- for raw, signal in web_types.items() %}
                when '{{ raw }}' then '{{ signal }}'
            {%- endfor %}
        end as signal_type,
        event_at as signal_at,
        product_id,
        email,
        email_match_key,
        customer_id,
        anonymous_id,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as consent_status,
        _loaded_at
    from web_events
    where event_type in ('{{ web_types.keys() | join("', '") }}')

    union all

    select
        'shop_orders' as source_table,
        order_id as source_record_id,
        'order' as signal_type,
        ordered_at as signal_at,
        cast(null as {{ dbt.type_string() }}) as product_id,
        email,
        email_match_key,
        customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        shipping_first_name as first_name,
        cast(null as {{ dbt.type_string() }}) as consent_status,
        _loaded_at
    from orders

    union all

    select
        'esp_subscribers' as source_table,
        subscriber_id as source_record_id,
        case when status in ('unsubscribed', 'cleaned') then 'suppression' else 'subscription' end as signal_type,
        case when status in ('unsubscribed', 'cleaned') then coalesce(updated_at, created_at) else created_at end as signal_at,
        cast(null as {{ dbt.type_string() }}) as product_id,
        email,
        email_match_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        first_name,
        cast(null as {{ dbt.type_string() }}) as consent_status,
        _loaded_at
    from subscribers

    union all

    select
        'esp_email_events' as source_table,
        event_id as source_record_id,
        'suppression' as signal_type,
        event_at as signal_at,
        cast(null as {{ dbt.type_string() }}) as product_id,
        email,
        {{ mailroom.email_match_key('email') }} as email_match_key,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as consent_status,
        _loaded_at
    from email_events
    where
        event_type in ('unsubscribe', 'spam_complaint')
        or (event_type = 'bounce' and bounce_type = 'hard')

    union all

    select
        'consent_events' as source_table,
        consent_event_id as source_record_id,
        'consent' as signal_type,
        event_at as signal_at,
        cast(null as {{ dbt.type_string() }}) as product_id,
        email,
        email_match_key,
        customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        cast(null as {{ dbt.type_string() }}) as first_name,
        case when is_granted then 'granted' else 'withdrawn' end as consent_status,
        _loaded_at
    from consent_events
    where channel = 'email' and purpose = 'marketing'

    union all

    select
        'erasure_requests' as source_table,
        request_id as source_record_id,
        'erasure' as signal_type,
        requested_at as signal_at,
        cast(null as {{ dbt.type_string() }}) as product_id,
        email,
        email_match_key,
        customer_id,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as consent_status,
        _loaded_at
    from erasure_requests
),

device_emails as (
    -- the e-mail a device typed in the same rows (a sign-up form): a new
    -- visitor's views and sign-up become one provisional person
    select
        anonymous_id,
        min(email_match_key) as email_match_key
    from landed
    where anonymous_id is not null and email_match_key is not null
    group by 1
),

mapped as (
    select
        landed.*,
        coalesce(by_account.person_id, by_device.person_id, by_email.person_id) as known_person_id,
        case
            when coalesce(landed.email_match_key, device_emails.email_match_key) is not null
                then 'email|' || coalesce(landed.email_match_key, device_emails.email_match_key)
            when landed.anonymous_id is not null then 'device|' || landed.anonymous_id
            when landed.customer_id is not null then 'account|' || landed.customer_id
        end as provisional_key
    from landed
    left join device_emails
        on landed.anonymous_id = device_emails.anonymous_id
    left join identifier_persons as by_account
        on
            by_account.identifier_type = 'customer_id'
            and landed.customer_id = by_account.identifier_value
    left join identifier_persons as by_device
        on
            by_device.identifier_type = 'anonymous_id'
            and landed.anonymous_id = by_device.identifier_value
    left join identifier_persons as by_email
        on
            by_email.identifier_type = 'email'
            and coalesce(landed.email_match_key, device_emails.email_match_key) = by_email.identifier_value
),

final as (
    select
        -- ids
        source_table,
        source_record_id,
        coalesce(known_person_id, {{ dbt.hash("'provisional|' || provisional_key") }}) as person_id,
        product_id,

        -- strings
        signal_type,
        email,
        first_name,
        consent_status,

        -- booleans
        known_person_id is null as is_provisional,

        -- timestamps
        signal_at,
        _loaded_at
    from mapped
    where
        signal_at is not null
        and (known_person_id is not null or provisional_key is not null)
        and {{ mailroom.not_erased('mapped.known_person_id') }}
)

select * from final
