with

screened_records as (
    select * from {{ ref('int_identity__screened_records') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

identity_survivorship as (
    select * from {{ ref('identity_survivorship') }}
),

person_records as (
    -- refused identifiers (a placeholder, a shared phone) are already blanked
    select
        clusters.person_id,
        screened_records.*
    from screened_records
    inner join clusters
        on screened_records.node_id = clusters.node_id
),

persons as (
    select
        person_id,
        count(*) as source_record_count,
        cast(sum(case when source_table = 'crm_contacts' then 1 else 0 end) as bigint) as crm_contact_count,
        cast(sum(case when source_table = 'shop_customers' then 1 else 0 end) as bigint) as shop_account_count,
        cast(sum(case when source_table = 'shop_orders' then 1 else 0 end) as bigint) as guest_order_count,
        cast(sum(case when source_table = 'esp_subscribers' then 1 else 0 end) as bigint) as esp_subscriber_count,
        cast(sum(case when source_table = 'web_events' then 1 else 0 end) as bigint) as web_visitor_count,
        min(created_at) as first_seen_at,
        max(updated_at) as last_seen_at
    from person_records
    group by 1
),

emails as (
    {{ mailroom.golden_attribute('email', ['email', 'email_match_key']) }}
),

phones as (
    {{ mailroom.golden_attribute('phone', ['phone_e164']) }}
),

names as (
    {{ mailroom.golden_attribute('name', ['first_name', 'last_name']) }}
),

addresses as (
    {{ mailroom.golden_attribute(
        'address',
        ['street', 'postcode', 'city', 'country_code'],
        carried=['address_line_2', 'region'],
    ) }}
),

birth_dates as (
    {{ mailroom.golden_attribute('birth_date', ['birth_date']) }}
),

final as (
    select
        -- ids
        persons.person_id,

        -- strings
        emails.email,
        emails.email_match_key,
        phones.phone_e164,
        names.first_name,
        names.last_name,
        addresses.street,
        addresses.address_line_2,
        addresses.postcode,
        addresses.city,
        addresses.region,
        addresses.country_code,

        -- dates
        birth_dates.birth_date,

        -- numbers
        persons.source_record_count,
        persons.crm_contact_count,
        persons.shop_account_count,
        persons.guest_order_count,
        persons.esp_subscriber_count,
        persons.web_visitor_count,

        -- timestamps
        persons.first_seen_at,
        persons.last_seen_at
    from persons
    left join emails
        on persons.person_id = emails.person_id
    left join phones
        on persons.person_id = phones.person_id
    left join names
        on persons.person_id = names.person_id
    left join addresses
        on persons.person_id = addresses.person_id
    left join birth_dates
        on persons.person_id = birth_dates.person_id
)

select * from final
where {{ mailroom.not_erased('final.person_id') }}
