{#- One row per open of a campaign e-mail, human or machine. A machine open
    is an open whose user agent matches a pattern of
    seeds/machine_open_user_agents.csv (Apple Mail Privacy Protection,
    security scanners), or one at most
    var('machine_open_max_seconds_after_delivery') seconds after the
    message's first delivery (nobody reads that fast). -#}
with

email_events as (
    select * from {{ ref('fct_email_events') }}
),

stg_esp__email_events as (
    select * from {{ ref('stg_esp__email_events') }}
),

machine_open_user_agents as (
    select * from {{ ref('machine_open_user_agents') }}
),

opens as (
    select
        email_events.event_id,
        email_events.person_id,
        email_events.subscriber_id,
        email_events.campaign_id,
        email_events.variant,
        email_events.event_at,
        stg_esp__email_events.user_agent
    from email_events
    inner join stg_esp__email_events
        on email_events.event_id = stg_esp__email_events.event_id
    where email_events.event_type = 'open'
),

deliveries as (
    select
        subscriber_id,
        campaign_id,
        min(event_at) as delivered_at
    from email_events
    where event_type = 'delivered'
    group by 1, 2
),

user_agent_matches as (
    select
        opens.event_id,
        min(machine_open_user_agents.machine_kind) as machine_kind
    from opens
    inner join machine_open_user_agents
        on lower(opens.user_agent) like machine_open_user_agents.user_agent_pattern
    group by 1
),

timed as (
    select
        opens.*,
        deliveries.delivered_at,
        user_agent_matches.machine_kind,
        {{ dbt.datediff('deliveries.delivered_at', 'opens.event_at', 'second') }} as seconds_after_delivery
    from opens
    left join deliveries
        on
            opens.subscriber_id = deliveries.subscriber_id
            and opens.campaign_id = deliveries.campaign_id
    left join user_agent_matches
        on opens.event_id = user_agent_matches.event_id
),

final as (
    select
        -- ids
        event_id,
        person_id,
        subscriber_id,
        campaign_id,

        -- strings
        variant,
        user_agent,
        case
            when machine_kind is not null then 'user_agent'
            when
                seconds_after_delivery between 0 and {{ var('machine_open_max_seconds_after_delivery') }}
                then 'seconds_after_delivery'
        end as machine_open_rule,
        machine_kind,

        -- numbers
        seconds_after_delivery,

        -- booleans
        coalesce(
            machine_kind is not null
            or seconds_after_delivery between 0 and {{ var('machine_open_max_seconds_after_delivery') }},
            false
        ) as is_machine_open,

        -- timestamps
        event_at,
        delivered_at
    from timed
)

select * from final
