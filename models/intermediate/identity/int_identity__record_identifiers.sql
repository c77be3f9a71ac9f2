{#- One row per (record, identifier): the normalized identifiers a record
    carries, including those it gets from related rows (an account's orders
    give their e-mail and phone to the account; a web visitor gets the
    customer id it logged in with and the e-mails it typed into identify,
    sign-up and checkout events). -#}
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

final as (
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
)

select * from final
