{#- One row per person, channel and purpose: may we contact them this way,
    and why (not). E-mail marketing exists for everyone and follows
    int_customers__email_contactability: ESP subscriber status and e-mail
    events (spam complaint, hard bounce, unsubscribe) always win over an
    older opt-in. Other channels and purposes (SMS marketing) exist for the
    people with consent events for them: the latest event decides, and SMS
    needs a phone number. Erased people are not here. -#}
with

contactability as (
    select * from {{ ref('int_customers__email_contactability') }}
),

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

person_requests as (
    select * from {{ ref('int_privacy__person_requests') }}
),

other_consents as (
    select
        person_id,
        channel,
        purpose,
        is_granted,
        requested_at
    from person_requests
    where
        request_type = 'consent'
        and not (channel = 'email' and purpose = 'marketing')
        and {{ mailroom.not_erased('person_requests.person_id') }}
    qualify row_number() over (
        partition by person_id, channel, purpose
        order by requested_at desc nulls last, is_granted asc, request_id asc
    ) = 1
),

email_marketing as (
    select
        person_id,
        'email' as channel,
        'marketing' as purpose,
        email_consent_status as consent_status,
        case
            when email_contactability in ('complained', 'bounced', 'unsubscribed', 'no_email')
                then email_contactability
        end as suppression_reason,
        email_contactability = 'contactable' as is_contactable,
        consent_updated_at
    from contactability
),

other_channels as (
    select
        other_consents.person_id,
        other_consents.channel,
        other_consents.purpose,
        case when other_consents.is_granted then 'granted' else 'withdrawn' end as consent_status,
        case
            when not other_consents.is_granted then 'withdrawn'
            when other_consents.channel = 'sms' and golden_records.phone_e164 is null then 'no_phone'
        end as suppression_reason,
        other_consents.is_granted
        and (other_consents.channel != 'sms' or golden_records.phone_e164 is not null) as is_contactable,
        other_consents.requested_at as consent_updated_at
    from other_consents
    inner join golden_records
        on other_consents.person_id = golden_records.person_id
),

unioned as (
    select * from email_marketing
    union all
    select * from other_channels
),

final as (
    select
        -- ids
        person_id,

        -- strings
        channel,
        purpose,
        consent_status,
        suppression_reason,

        -- booleans
        is_contactable,

        -- timestamps
        consent_updated_at
    from unioned
)

select * from final
