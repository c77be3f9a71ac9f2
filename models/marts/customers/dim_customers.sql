with

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

features as (
    select * from {{ ref('int_customers__features') }}
),

email_contactability as (
    select * from {{ ref('int_customers__email_contactability') }}
),

memberships as (
    select * from {{ ref('fct_segment_memberships') }}
),

affinities as (
    select * from {{ ref('fct_customer_affinities') }}
),

customer_clusters as (
    select * from {{ ref('fct_customer_clusters') }}
),

primary_segments as (
    select
        person_id,
        segment_id
    from memberships
    where is_primary
),

top_affinities as (
    select
        person_id,
        max(case when affinity_type = 'category' then affinity_value end) as top_category,
        max(case when affinity_type = 'brand' then affinity_value end) as top_brand
    from affinities
    where affinity_rank = 1
    group by 1
),

final as (
    select
        -- ids
        golden_records.person_id,

        -- strings: the golden record
        golden_records.email,
        golden_records.email_match_key,
        golden_records.phone_e164,
        golden_records.first_name,
        golden_records.last_name,
        golden_records.street,
        golden_records.address_line_2,
        golden_records.postcode,
        golden_records.city,
        golden_records.region,
        golden_records.country_code,

        -- strings: state
        email_contactability.email_contactability,
        email_contactability.email_consent_status,
        coalesce(features.lifecycle_stage, 'prospect') as lifecycle_stage,
        primary_segments.segment_id as primary_segment_id,
        top_affinities.top_category,
        top_affinities.top_brand,
        cast(customer_clusters.cluster_label as {{ dbt.type_string() }}) as cluster_label,

        -- booleans
        email_contactability.email_contactability = 'contactable' as is_email_contactable,
        email_contactability.is_esp_subscribed,

        -- dates
        golden_records.birth_date,
        features.as_of_date,

        -- numbers: learned cluster
        cast(customer_clusters.cluster_id as integer) as cluster_id,

        -- numbers: identity
        golden_records.source_record_count,
        golden_records.crm_contact_count,
        golden_records.shop_account_count,
        golden_records.guest_order_count,
        golden_records.esp_subscriber_count,
        golden_records.web_visitor_count,

        -- numbers: orders and value (net of cancellations and refunds)
        cast(coalesce(features.orders_lifetime, 0) as integer) as order_count,
        cast(coalesce(features.revenue_lifetime, 0) as double) as revenue,
        cast(features.avg_order_value as double) as avg_order_value,
        features.recency_score,
        features.frequency_score,
        features.monetary_score,
        features.rfm_score,

        -- numbers: engagement
        cast(features.open_rate_30d as double) as open_rate_30d,
        cast(features.open_rate_90d as double) as open_rate_90d,
        cast(features.click_rate_30d as double) as click_rate_30d,
        cast(features.click_rate_90d as double) as click_rate_90d,
        cast(features.product_views_30d as integer) as product_views_30d,
        cast(features.cart_adds_30d as integer) as cart_adds_30d,
        cast(features.visits_30d as integer) as visits_30d,
        cast(features.days_since_last_order as integer) as days_since_last_order,
        cast(features.days_since_last_visit as integer) as days_since_last_visit,
        cast(features.days_since_last_open as integer) as days_since_last_open,
        cast(features.days_since_last_click as integer) as days_since_last_click,

        -- timestamps
        features.first_order_at,
        features.last_order_at,
        features.last_visit_at,
        features.last_open_at,
        features.last_click_at,
        email_contactability.consent_updated_at,
        golden_records.first_seen_at,
        golden_records.last_seen_at
    from golden_records
    left join features
        on golden_records.person_id = features.person_id
    left join email_contactability
        on golden_records.person_id = email_contactability.person_id
    left join primary_segments
        on golden_records.person_id = primary_segments.person_id
    left join top_affinities
        on golden_records.person_id = top_affinities.person_id
    left join customer_clusters
        on golden_records.person_id = customer_clusters.person_id
)

select * from final
