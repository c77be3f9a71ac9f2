{#- A visit (session) ends after var('web_session_timeout_minutes') without an event on the device. -#}
with

web_events as (
    select * from {{ ref('stg_web__events') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

previous_events as (
    select
        *,
        -- an event without a device id is a visit of its own
        coalesce(anonymous_id, event_id) as device_id,
        -- when the warehouse could know it
        {{ mailroom.greatest_of(['event_at', 'received_at']) }} as known_at,
        lag(event_at) over (
            partition by coalesce(anonymous_id, event_id)
            order by event_at, event_id
        ) as previous_event_at
    from web_events
),

session_starts as (
    select
        *,
        coalesce(
            event_at > {{ dbt.dateadd('minute', var('web_session_timeout_minutes'), 'previous_event_at') }},
            true
        ) as is_session_start
    from previous_events
),

sessions as (
    select
        *,
        -- when the device first said who uses it (a login or a typed e-mail)
        min(case
            when customer_id is not null or email_match_key is not null
                then known_at
        end) over (partition by device_id) as device_identified_at,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by device_id
            order by event_at, event_id
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts
),

final as (
    select
        -- ids
        sessions.event_id,
        -- a logged-in event belongs to the account's person, others to the device's
        coalesce(account_clusters.person_id, device_clusters.person_id) as person_id,
        sessions.anonymous_id,
        sessions.customer_id,
        sessions.device_id || '-' || cast(sessions.session_number as {{ dbt.type_string() }}) as session_id,
        sessions.order_id,
        sessions.product_id,

        -- strings
        sessions.event_type,
        sessions.page_url,
        coalesce(products.category, sessions.product_category) as product_category,
        products.brand as product_brand,

        -- numbers
        sessions.product_price,

        -- booleans
        sessions.is_session_start,

        -- timestamps
        sessions.event_at,
        sessions.known_at,
        -- when the event could be put on its person: an anonymous event of a
        -- device that identifies later belongs to the person from then on
        {{ mailroom.greatest_of(['sessions.known_at', 'sessions.device_identified_at']) }} as attributed_at
    from sessions
    left join products
        on sessions.product_id = products.product_id
    left join clusters as account_clusters
        on
            account_clusters.source_table = 'shop_customers'
            and sessions.customer_id = account_clusters.source_record_id
    left join clusters as device_clusters
        on
            device_clusters.source_table = 'web_events'
            and sessions.anonymous_id = device_clusters.source_record_id
)

select * from final
where {{ mailroom.not_erased('final.person_id') }}
