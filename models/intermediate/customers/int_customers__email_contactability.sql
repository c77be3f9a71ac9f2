{#- One row per person: may we send them marketing e-mail, and if not, why.
    Erased people are gone before this model (int_privacy__erased_persons).
    Suppressions always win over consent: a spam complaint, a
    hard bounce (or the ESP cleaning the address), an unsubscribe (at the ESP
    or a withdrawn consent). Otherwise the latest e-mail marketing consent (or
    an active ESP subscription) makes the person contactable. -#}
with

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
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

person_requests as (
    select * from {{ ref('int_privacy__person_requests') }}
    where channel = 'email' and purpose = 'marketing'
),

latest_consent as (
    select
        person_id,
        is_granted as is_consent_granted,
        requested_at as consent_updated_at
    from person_requests
    qualify row_number() over (
        partition by person_id
        order by requested_at desc nulls last, is_granted asc, request_id asc
    ) = 1
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
        suppressing_events.complained_at,
        suppressing_events.hard_bounced_at,
        suppressing_events.unsubscribed_at
    from golden_records
    left join latest_consent
        on golden_records.person_id = latest_consent.person_id
    left join subscriptions
        on golden_records.person_id = subscriptions.person_id
    left join suppressing_events
        on golden_records.person_id = suppressing_events.person_id
)

select * from final
