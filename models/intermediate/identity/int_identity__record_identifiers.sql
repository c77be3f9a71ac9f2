{#- One row per (record, identifier): the normalized identifiers a record
    carries, including those it gets from related rows (an account's orders
    give their e-mail and phone to the account; a web visitor gets the
    customer id it logged in with and the e-mails it typed into identify,
    sign-up and checkout events). A device that logged into several accounts
    or typed several e-mails is shared (a family computer): is_shared_device
    marks its identifiers, which then link nothing. -#}
with

records as (
    select * from {{ ref('int_identity__records') }}
),

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

web_events as (
    select * from {{ ref('stg_web__events') }}
),

carried as (
    select
        node_id,
        'email' as identifier_type,
        email_match_key as identifier_value,
        'record' as identifier_origin
    from records
    where email_match_key is not null

    union all

    select
        node_id,
        'phone' as identifier_type,
        phone_e164 as identifier_value,
        'record' as identifier_origin
    from records
    where phone_e164 is not null

    union all

    select
        node_id,
        'customer_id' as identifier_type,
        source_record_id as identifier_value,
        'record' as identifier_origin
    from records
    where source_table = 'shop_customers'

    union all

    select
        'shop_customers:' || customer_id as node_id,
        'email' as identifier_type,
        email_match_key as identifier_value,
        'account_order' as identifier_origin
    from shop_orders
    where customer_id is not null and email_match_key is not null

    union all

    select
        'shop_customers:' || customer_id as node_id,
        'phone' as identifier_type,
        phone_e164 as identifier_value,
        'account_order' as identifier_origin
    from shop_orders
    where customer_id is not null and phone_e164 is not null

    union all

    select
        'web_events:' || anonymous_id as node_id,
        'customer_id' as identifier_type,
        customer_id as identifier_value,
        'web_login' as identifier_origin
    from web_events
    where customer_id is not null

    union all

    select
        'web_events:' || anonymous_id as node_id,
        'email' as identifier_type,
        email_match_key as identifier_value,
        'web_' || event_type as identifier_origin
    from web_events
    where email_match_key is not null
),

distinct_identifiers as (
    select
        carried.node_id,
        carried.identifier_type,
        carried.identifier_value,
        min(carried.identifier_origin) as identifier_origin
    from carried
    -- an account order of a customer that is not staged has no node to give to
    inner join records
        on carried.node_id = records.node_id
    group by 1, 2, 3
),

device_loads as (
    select
        node_id,
        sum(case when identifier_type = 'customer_id' then 1 else 0 end) as accounts,
        sum(case when identifier_type = 'email' then 1 else 0 end) as emails
    from distinct_identifiers
    where node_id like 'web_events:%'
    group by 1
),

final as (
    select
        distinct_identifiers.node_id,
        distinct_identifiers.identifier_type,
        distinct_identifiers.identifier_value,
        distinct_identifiers.identifier_origin,
        coalesce(
            device_loads.accounts > {{ var('identity_max_accounts_per_device') }}
            or device_loads.emails > {{ var('identity_max_emails_per_device') }},
            false
        ) as is_shared_device
    from distinct_identifiers
    left join device_loads
        on distinct_identifiers.node_id = device_loads.node_id
)

select * from final
