{#- One row per contactable e-mail: the profile the ESP receives (mailroom
    sync). Only people whose e-mail marketing is contactable are here, so a
    suppressed person is never sent; a person who stops being contactable
    leaves this table and the sync removes (unsubscribes) them. Tiers and a
    value band travel, not the scores and amounts that move a little every
    day (they would make every profile "changed" on every run). Text traits
    that can become empty are sent as '' rather than null, so that an ESP
    that ignores nulls (Klaviyo's bulk import) keeps no stale value. List columns
    (segments, recommended_products, audiences) are JSON arrays as text. -#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

scores as (
    select * from {{ ref('fct_propensity_scores') }}
),

customer_value as (
    select * from {{ ref('fct_customer_value') }}
),

send_preferences as (
    select * from {{ ref('fct_send_preferences') }}
),

content_selections as (
    select * from {{ ref('fct_content_selections') }}
),

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

segment_memberships as (
    select * from {{ ref('fct_segment_memberships') }}
),

person_segments as (
    select
        person_id,
        '["' || {{ dbt.listagg("segment_id", "'\",\"'", "order by segment_id") }} || '"]' as segments
    from segment_memberships
    group by 1
),

person_audiences as (
    select
        person_id,
        '["' || {{ dbt.listagg("audience_id", "'\",\"'", "order by audience_id") }} || '"]' as audiences
    from memberships
    where is_sendable
    group by 1
),

person_scores as (
    select
        person_id,
        max(case when model_name = 'purchase' then tier end) as purchase_tier,
        max(case when model_name = 'churn' then tier end) as churn_tier
    from scores
    group by 1
),

value_bands as (
    -- top 20% of expected revenue high, next 30% medium, the rest low
    select
        person_id,
        case
            when percent_rank() over (order by expected_revenue desc) < 0.2 then 'high'
            when percent_rank() over (order by expected_revenue desc) < 0.5 then 'medium'
            else 'low'
        end as value_band
    from customer_value
),

final as (
    select
        -- ids
        customers.email,
        customers.person_id,

        -- strings
        customers.first_name,
        customers.last_name,
        customers.phone_e164 as phone_number,
        customers.country_code,
        coalesce(person_segments.segments, '[]') as segments,
        coalesce(customers.cluster_label, '') as cluster_name,
        coalesce(person_scores.purchase_tier, '') as purchase_tier,
        coalesce(person_scores.churn_tier, '') as churn_tier,
        coalesce(value_bands.value_band, '') as value_band,
        content_selections.content_block,
        coalesce(content_selections.offer_code, '') as offer_code,
        content_selections.subject_line,
        content_selections.preheader,
        case
            when content_selections.recommended_product_ids is not null
                then '["' || replace(content_selections.recommended_product_ids, ',', '","') || '"]'
            else '[]'
        end as recommended_products,
        coalesce(person_audiences.audiences, '[]') as audiences,

        -- numbers
        cast(coalesce(customers.order_count, 0) as integer) as orders_lifetime,
        round(coalesce(customers.revenue, 0), 2) as revenue_lifetime,
        send_preferences.best_send_hour_utc,

        -- booleans
        coalesce(send_preferences.is_fatigued, false) as is_fatigued,

        -- timestamps
        customers.last_order_at,
        customers.consent_updated_at
    from customers
    left join person_segments
        on customers.person_id = person_segments.person_id
    left join person_audiences
        on customers.person_id = person_audiences.person_id
    left join person_scores
        on customers.person_id = person_scores.person_id
    left join value_bands
        on customers.person_id = value_bands.person_id
    left join send_preferences
        on customers.person_id = send_preferences.person_id
    left join content_selections
        on customers.person_id = content_selections.person_id
    where
        customers.is_email_contactable
        and customers.email is not null
)

select * from final
