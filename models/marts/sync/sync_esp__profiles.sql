{#- One row per contactable e-mail: the profile the ESP receives (mailroom
    sync). Only people whose e-mail marketing is contactable are here, so a
    suppressed person is never sent; a person who stops being contactable
    leaves this table and the sync removes (unsubscribes) them. Tiers and a
    value band travel, not the scores and amounts that move a little every
    day (they would make every profile "changed" on every run). Text traits
    that can become empty are sent as '' rather than null, so that an ESP
    that ignores nulls (Klaviyo's bulk import) keeps no stale value. List columns
    (segments, recommended_products, audiences) are JSON arrays as text.

    The trigger lane (`mailroom trigger`) keeps it current between routine
    builds: a batch rebuilds the rows of the persons it touches
    (int_trigger__touched_persons) with their trigger audiences and
    contactability (macro trigger_contactable: a landed unsubscribe removes
    the profile at once), and adds a profile for a new person who opted in
    (their e-mail and first name; the next routine build fills the rest),
    unless another person's profile has that e-mail. -#}
{{ mailroom.trigger_person_model_config() }}

with

customers as (
    select * from {{ ref('dim_customers') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

states as (
    select * from {{ ref('fct_trigger_person_states') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

audiences as (
    select * from {{ ref('audiences') }}
),

trigger_memberships as (
    select * from {{ ref('fct_trigger_audience_memberships') }}
),

scores as (
    select * from {{ ref('fct_propensity_scores') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

customer_value as (
    select * from {{ ref('fct_customer_value') }}
),

send_preferences as (
    select * from {{ ref('fct_send_preferences') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

content_selections as (
    select * from {{ ref('fct_content_selections') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

segment_memberships as (
    select * from {{ ref('fct_segment_memberships') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

person_segments as (
    select
        person_id,
        '["' || {{ dbt.listagg("segment_id", "'\",\"'", "order by segment_id") }} || '"]' as segments
    from segment_memberships
    group by 1
),

sendable_memberships as (
    -- routine audiences from the last routine build, trigger audiences from the trigger lane
    select
        memberships.person_id,
        memberships.audience_id
    from memberships
    inner join audiences
        on memberships.audience_id = audiences.audience_id
    where memberships.is_sendable and audiences.lane = 'routine'

    union all

    select
        person_id,
        audience_id
    from trigger_memberships
    where is_sendable
),

person_audiences as (
    select
        person_id,
        '["' || {{ dbt.listagg("audience_id", "'\",\"'", "order by audience_id") }} || '"]' as audiences
    from sendable_memberships
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

known_profiles as (
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
    left join states
        on customers.person_id = states.person_id
    where
        {{ mailroom.trigger_contactable('states', 'customers') }}
        and customers.email is not null
),

new_profiles as (
    -- opted in since the last routine build, not known to it yet
    select
        -- ids
        states.email,
        states.person_id,

        -- strings
        coalesce(states.first_name, '') as first_name,
        cast(null as {{ dbt.type_string() }}) as last_name,
        cast(null as {{ dbt.type_string() }}) as phone_number,
        cast(null as {{ dbt.type_string() }}) as country_code,
        '[]' as segments,
        '' as cluster_name,
        '' as purchase_tier,
        '' as churn_tier,
        '' as value_band,
        cast(null as {{ dbt.type_string() }}) as content_block,
        '' as offer_code,
        cast(null as {{ dbt.type_string() }}) as subject_line,
        cast(null as {{ dbt.type_string() }}) as preheader,
        '[]' as recommended_products,
        coalesce(person_audiences.audiences, '[]') as audiences,

        -- numbers
        0 as orders_lifetime,
        0 as revenue_lifetime,
        cast(null as integer) as best_send_hour_utc,

        -- booleans
        false as is_fatigued,

        -- timestamps
        cast(null as {{ dbt.type_timestamp() }}) as last_order_at,
        states.consent_updated_at
    from states
    left join customers
        on states.person_id = customers.person_id
    left join person_audiences
        on states.person_id = person_audiences.person_id
    where
        {{ mailroom.trigger_contactable('states', 'customers') }}
        and customers.person_id is null
        and states.email is not null
),

kept_emails as (
    -- in a trigger batch, the rows of persons it does not touch (the pre-hook deleted the others)
    {%- if is_incremental() %}
        select kept.email from {{ this }} as kept
    {%- else %}
        select known_profiles.email
        from known_profiles
        where false
    {%- endif %}
),

final as (
    select * from known_profiles

    union all

    select * from new_profiles
    where
        new_profiles.email not in (select known_profiles.email from known_profiles)
        and new_profiles.email not in (select kept_emails.email from kept_emails)
)

select * from final
