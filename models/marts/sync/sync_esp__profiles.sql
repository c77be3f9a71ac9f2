{#- One row per contactable e-mail: the profile the ESP receives (mailroom
    sync). Only people whose e-mail marketing is contactable are here, so a
    suppressed person is never sent; a person who stops being contactable
    leaves this table and the sync removes (unsubscribes) them. Scores and
    amounts are rounded so that noise below what a marketer would segment on
    does not make every profile "changed" on every run. List columns
    (segments, recommended_products, audiences) are JSON arrays as text. -#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

person_attributes as (
    select * from {{ ref('int_activation__person_attributes') }}
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
        max(case when model_name = 'purchase' then round(score, 3) end) as purchase_score,
        max(case when model_name = 'purchase' then tier end) as purchase_tier,
        max(case when model_name = 'churn' then round(score, 3) end) as churn_score,
        max(case when model_name = 'churn' then tier end) as churn_tier
    from scores
    group by 1
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
        customers.cluster_label as cluster_name,
        person_scores.purchase_tier,
        person_scores.churn_tier,
        content_selections.content_block,
        content_selections.offer_code,
        content_selections.subject_line,
        content_selections.preheader,
        case
            when content_selections.recommended_product_ids is not null
                then '["' || replace(content_selections.recommended_product_ids, ',', '","') || '"]'
            else '[]'
        end as recommended_products,
        coalesce(person_audiences.audiences, '[]') as audiences,

        -- numbers
        person_scores.purchase_score,
        person_scores.churn_score,
        round(customer_value.expected_revenue_365d, 2) as predicted_revenue_365d,
        cast(coalesce(customers.order_count, 0) as integer) as orders_lifetime,
        round(coalesce(customers.revenue, 0), 2) as revenue_lifetime,
        send_preferences.best_send_hour_utc,

        -- booleans
        coalesce(send_preferences.is_fatigued, false) as is_fatigued,

        -- timestamps
        customers.last_order_at,
        customers.consent_updated_at
    from customers
    inner join person_attributes
        on customers.person_id = person_attributes.person_id
    left join person_segments
        on customers.person_id = person_segments.person_id
    left join person_audiences
        on customers.person_id = person_audiences.person_id
    left join person_scores
        on customers.person_id = person_scores.person_id
    left join customer_value
        on customers.person_id = customer_value.person_id
    left join send_preferences
        on customers.person_id = send_preferences.person_id
    left join content_selections
        on customers.person_id = content_selections.person_id
    where
        customers.is_email_contactable
        and customers.email is not null
)

select * from final
