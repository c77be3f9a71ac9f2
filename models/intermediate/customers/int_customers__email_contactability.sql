{#- One row per person: may we send them marketing e-mail, and if not, why.
    Suppressions always win over consent: erasure, then a spam complaint, a
    hard bounce (or the ESP cleaning the address), an unsubscribe (at the ESP
    or a withdrawn consent). Otherwise the latest e-mail marketing consent (or
    an active ESP subscription) makes the person contactable. -#}
with

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

screened_records as (
    select * from {{ ref('int_identity__screened_records') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

subscribers as (
    select * from {{ ref('stg_esp__subscribers') }}
),

email_events as (
    select * from {{ ref('fct_email_events') }}
),

consent_events as (
    select * from {{ ref('stg_privacy__consent_events') }}
),

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
),

person_keys as (
    -- the e-mails and shop accounts a privacy request can name a person by
    select distinct
        clusters.person_id,
        'email' as key_type,
        screened_records.email_match_key as key_value
    from screened_records
    inner join clusters
        on screened_records.node_id = clusters.node_id
    where screened_records.email_match_key is not null

    union all

    select
        person_id,
        'customer_id' as key_type,
        source_record_id as key_value
    from clusters
    where source_table = 'shop_customers'
),

requests as (
    select
        consent_event_id as request_id,
        'consent' as request_type,
        customer_id,
        email_match_key,
        is_granted,
        event_at as requested_at
    from consent_events
    where channel = 'email' and purpose = 'marketing'

    union all

    select
        request_id,
        'erasure' as request_type,
        customer_id,
        email_match_key,
        false as is_granted,
        requested_at
    from erasure_requests
),

request_keys as (
    select
        request_id,
        request_type,
        is_granted,
        requested_at,
        'customer_id' as key_type,
        customer_id as key_value
    from requests
    where customer_id is not null

    union all

    select
        request_id,
        request_type,
        is_granted,
        requested_at,
        'email' as key_type,
        email_match_key as key_value
    from requests
    where email_match_key is not null
),

person_requests as (
    -- a request naming a person by account and by e-mail counts once
    select distinct
        person_keys.person_id,
        request_keys.request_id,
        request_keys.request_type,
        request_keys.is_granted,
        request_keys.requested_at
    from request_keys
    inner join person_keys
        on
            request_keys.key_type = person_keys.key_type
            and request_keys.key_value = person_keys.key_value
),

latest_consent as (
    select
        person_id,
        is_granted as is_consent_granted,
        requested_at as consent_updated_at
    from person_requests
    where request_type = 'consent'
    qualify row_number() over (
        partition by person_id
        order by requested_at desc nulls last, is_granted asc, request_id asc
    ) = 1
),

erasures as (
    select
        person_id,
        min(requested_at) as erasure_requested_at
    from person_requests
    where request_type = 'erasure'
    group by 1
),

subscriptions as (
    select
        clusters.person_id,
        max(case when subscribers.status = 'subscribed' then 1 else 0 end) as has_active_subscription,
        max(case when subscribers.status = 'unsubscribed' then 1 else 0 end) as has_unsubscribed_status,
        max(case when subscribers.status = 'cleaned' then 1 else 0 end) as has_cleaned_status
    from subscribers
    inner join clusters
        on
            clusters.source_table = 'esp_subscribers'
            and subscribers.subscriber_id = clusters.source_record_id
    group by 1
),

suppressing_events as (
    select
        person_id,
        max(case when event_type = 'spam_complaint' then event_at end) as complained_at,
        max(case when event_type = 'bounce' and bounce_type = 'hard' then event_at end) as hard_bounced_at,
        max(case when event_type = 'unsubscribe' then event_at end) as unsubscribed_at
    from email_events
    where
        person_id is not null
        and event_type in ('spam_complaint', 'bounce', 'unsubscribe')
    group by 1
),

final as (
    select
        -- ids
        golden_records.person_id,

        -- strings
        case
            when erasures.person_id is not null then 'erased'
            when suppressing_events.complained_at is not null then 'complained'
            when suppressing_events.hard_bounced_at is not null or subscriptions.has_cleaned_status = 1 then 'bounced'
            when
                suppressing_events.unsubscribed_at is not null
                or subscriptions.has_unsubscribed_status = 1
                or not latest_consent.is_consent_granted
                then 'unsubscribed'
            when golden_records.email is null then 'no_email'
            when latest_consent.is_consent_granted or subscriptions.has_active_subscription = 1 then 'contactable'
            else 'no_consent'
        end as email_contactability,
        case
            when latest_consent.is_consent_granted then 'granted'
            when not latest_consent.is_consent_granted then 'withdrawn'
            else 'unknown'
        end as email_consent_status,

        -- booleans
        coalesce(subscriptions.has_active_subscription = 1, false) as is_esp_subscribed,

        -- timestamps
        latest_consent.consent_updated_at,
        erasures.erasure_requested_at,
        suppressing_events.complained_at,
        suppressing_events.hard_bounced_at,
        suppressing_events.unsubscribed_at
    from golden_records
    left join latest_consent
        on golden_records.person_id = latest_consent.person_id
    left join erasures
        on golden_records.person_id = erasures.person_id
    left join subscriptions
        on golden_records.person_id = subscriptions.person_id
    left join suppressing_events
        on golden_records.person_id = suppressing_events.person_id
)

select * from final
