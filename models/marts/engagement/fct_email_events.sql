with

email_events as (
    select * from {{ ref('stg_esp__email_events') }}
),

campaigns as (
    select * from {{ ref('stg_esp__campaigns') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

final as (
    select
        -- ids
        email_events.event_id,
        clusters.person_id,
        email_events.subscriber_id,
        email_events.campaign_id,

        -- strings
        email_events.event_type,
        campaigns.campaign_type,
        email_events.variant,
        email_events.url,
        email_events.bounce_type,

        -- booleans
        -- the first event of its type for one message: machine re-opens and
        -- repeated clicks count once in rates
        row_number() over (
            partition by email_events.subscriber_id, email_events.campaign_id, email_events.event_type
            order by email_events.event_at, email_events.event_id
        ) = 1 as is_first_of_type,

        -- timestamps
        email_events.event_at,
        -- when the warehouse could know it: the ESP's webhook may arrive late
        {{ mailroom.greatest_of(['email_events.event_at', 'email_events.received_at']) }} as known_at
    from email_events
    left join campaigns
        on email_events.campaign_id = campaigns.campaign_id
    left join clusters
        on
            clusters.source_table = 'esp_subscribers'
            and email_events.subscriber_id = clusters.source_record_id
)

select * from final
where {{ mailroom.not_erased('final.person_id') }}
