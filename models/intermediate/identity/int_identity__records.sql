{#- One row per person-bearing source record: the nodes of the identity graph.
    Guest orders are nodes; an account's orders are not (they belong to the
    account, see int_identity__record_identifiers). Every customer id is an
    account: one that the orders name but shop_customers lacks (a bare
    transaction log has no customer file) is a node too, with the contact
    details of its latest order and its first order as its creation. The node label orders
    records by source priority so that a cluster is named after its most
    durable record (a CRM contact outlives a guest order). -#}
with

crm_contacts as (
    select * from {{ ref('stg_crm__contacts') }}
),

shop_customers as (
    select * from {{ ref('stg_shop__customers') }}
),

shop_orders as (
    select * from {{ ref('stg_shop__orders') }}
),

esp_subscribers as (
    select * from {{ ref('stg_esp__subscribers') }}
),

web_events as (
    select * from {{ ref('stg_web__events') }}
),

account_orders as (
    -- what an account's orders say of it: the earliest evidence of the customer
    select
        customer_id,
        min(ordered_at) as first_ordered_at,
        max(coalesce(updated_at, ordered_at)) as last_updated_at
    from shop_orders
    where customer_id is not null
    group by 1
),

latest_account_orders as (
    -- an account has no address of its own: its latest order ships somewhere
    select
        customer_id,
        shipping_street,
        shipping_address_line_2,
        shipping_postcode,
        shipping_city,
        shipping_region,
        shipping_country_code
    from shop_orders
    where customer_id is not null and shipping_street is not null
    qualify row_number() over (partition by customer_id order by ordered_at desc, order_id desc) = 1
),

order_only_accounts as (
    -- customer ids that only the orders know, with their latest order's contact details
    select
        shop_orders.customer_id,
        shop_orders.email,
        shop_orders.email_match_key,
        shop_orders.phone_e164,
        shop_orders.shipping_first_name as first_name,
        shop_orders.shipping_last_name as last_name,
        shop_orders.shipping_street as street,
        shop_orders.shipping_address_line_2 as address_line_2,
        shop_orders.shipping_postcode as postcode,
        shop_orders.shipping_city as city,
        shop_orders.shipping_region as region,
        shop_orders.shipping_country_code as country_code
    from shop_orders
    left join shop_customers
        on shop_orders.customer_id = shop_customers.customer_id
    where shop_orders.customer_id is not null and shop_customers.customer_id is null
    qualify row_number() over (
        partition by shop_orders.customer_id
        order by shop_orders.ordered_at desc, shop_orders.order_id desc
    ) = 1
),

web_visitors as (
    select
        anonymous_id,
        min(event_at) as first_seen_at,
        max(event_at) as last_seen_at
    from web_events
    -- a server-side event without a device id is not a visitor
    where anonymous_id is not null
    group by 1
),

web_latest_emails as (
    select
        anonymous_id,
        email,
        email_match_key
    from web_events
    where email_match_key is not null
    qualify row_number() over (partition by anonymous_id order by event_at desc, event_id desc) = 1
),

unioned as (
    select
        'crm_contacts' as source_table,
        1 as source_priority,
        contact_id as source_record_id,
        email,
        email_match_key,
        phone_e164,
        first_name,
        last_name,
        street,
        address_line_2,
        postcode,
        city,
        region,
        country_code,
        birth_date,
        created_at,
        updated_at
    from crm_contacts

    union all

    select
        'shop_customers' as source_table,
        2 as source_priority,
        shop_customers.customer_id as source_record_id,
        shop_customers.email,
        shop_customers.email_match_key,
        shop_customers.phone_e164,
        shop_customers.first_name,
        shop_customers.last_name,
        latest_account_orders.shipping_street as street,
        latest_account_orders.shipping_address_line_2 as address_line_2,
        latest_account_orders.shipping_postcode as postcode,
        latest_account_orders.shipping_city as city,
        latest_account_orders.shipping_region as region,
        coalesce(shop_customers.country_code, latest_account_orders.shipping_country_code) as country_code,
        cast(null as date) as birth_date,
        -- an export without sign-up dates still knows the customer from the first order
        coalesce(shop_customers.created_at, account_orders.first_ordered_at) as created_at,
        coalesce(shop_customers.updated_at, account_orders.last_updated_at) as updated_at
    from shop_customers
    left join latest_account_orders
        on shop_customers.customer_id = latest_account_orders.customer_id
    left join account_orders
        on shop_customers.customer_id = account_orders.customer_id

    union all

    select
        'shop_customers' as source_table,
        2 as source_priority,
        order_only_accounts.customer_id as source_record_id,
        order_only_accounts.email,
        order_only_accounts.email_match_key,
        order_only_accounts.phone_e164,
        order_only_accounts.first_name,
        order_only_accounts.last_name,
        order_only_accounts.street,
        order_only_accounts.address_line_2,
        order_only_accounts.postcode,
        order_only_accounts.city,
        order_only_accounts.region,
        order_only_accounts.country_code,
        cast(null as date) as birth_date,
        account_orders.first_ordered_at as created_at,
        account_orders.last_updated_at as updated_at
    from order_only_accounts
    inner join account_orders
        on order_only_accounts.customer_id = account_orders.customer_id

    union all

    select
        'esp_subscribers' as source_table,
        3 as source_priority,
        subscriber_id as source_record_id,
        email,
        email_match_key,
        cast(null as varchar) as phone_e164,
        first_name,
        last_name,
        cast(null as varchar) as street,
        cast(null as varchar) as address_line_2,
        cast(null as varchar) as postcode,
        cast(null as varchar) as city,
        cast(null as varchar) as region,
        cast(null as varchar) as country_code,
        cast(null as date) as birth_date,
        created_at,
        updated_at
    from esp_subscribers

    union all

    select
        'shop_orders' as source_table,
        4 as source_priority,
        order_id as source_record_id,
        email,
        email_match_key,
        phone_e164,
        shipping_first_name as first_name,
        shipping_last_name as last_name,
        shipping_street as street,
        shipping_address_line_2 as address_line_2,
        shipping_postcode as postcode,
        shipping_city as city,
        shipping_region as region,
        shipping_country_code as country_code,
        cast(null as date) as birth_date,
        ordered_at as created_at,
        updated_at
    from shop_orders
    where is_guest_checkout

    union all

    select
        'web_events' as source_table,
        5 as source_priority,
        web_visitors.anonymous_id as source_record_id,
        web_latest_emails.email,
        web_latest_emails.email_match_key,
        cast(null as varchar) as phone_e164,
        cast(null as varchar) as first_name,
        cast(null as varchar) as last_name,
        cast(null as varchar) as street,
        cast(null as varchar) as address_line_2,
        cast(null as varchar) as postcode,
        cast(null as varchar) as city,
        cast(null as varchar) as region,
        cast(null as varchar) as country_code,
        cast(null as date) as birth_date,
        web_visitors.first_seen_at as created_at,
        web_visitors.last_seen_at as updated_at
    from web_visitors
    left join web_latest_emails
        on web_visitors.anonymous_id = web_latest_emails.anonymous_id
),

final as (
    select
        -- ids
        source_table || ':' || source_record_id as node_id,
        source_table,
        source_record_id,
        cast(source_priority as varchar) || ':' || source_table || ':' || source_record_id as node_label,
        source_priority,

        -- identifiers and attributes as standardized in staging
        email,
        email_match_key,
        phone_e164,
        first_name,
        last_name,
        street,
        address_line_2,
        postcode,
        city,
        region,
        country_code,
        birth_date,

        -- comparison keys for the probabilistic step
        {{ mailroom.name_match_key('first_name') }} as first_name_key,
        {{ mailroom.name_match_key('last_name') }} as last_name_key,
        -- the street's leading house number apart from its name
        {%- set first_word = "lower(rtrim(" ~ dbt.split_part('trim(street)', "' '", 1) ~ ", ',.'))" %}
        case
            when {{ mailroom.regex_matches(first_word, '[0-9]+[a-z]?') }} then {{ first_word }}
        end as street_number,
        case
            when not {{ mailroom.regex_matches('lower(trim(street))', '[0-9]+[a-z]?') }}
                then {{ mailroom.name_match_key(mailroom.regex_replace_all('trim(street)', '^[0-9]+[a-zA-Z]?[ ,.]+', '')) }}
        end as street_name_key,
        upper({{ mailroom.name_match_key('postcode') }}) as postcode_key,
        {{ mailroom.name_match_key('city') }} as city_key,
        {{ dbt.split_part('email_match_key', "'@'", 1) }} as email_local_key,
        case
            when length(phone_e164) >= 9 then right(phone_e164, 7)
        end as phone_suffix,

        -- timestamps
        created_at,
        updated_at
    from unioned
)

select * from final
