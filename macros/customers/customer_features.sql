{#- Point-in-time customer features: one row per person and as-of date, for
    the as-of dates of int_customers__feature_dates that pass `dates_filter`.

    The one definition behind both scoring (the as-of date) and training (the
    stacked history), so the two cannot drift apart. A feature at as-of date D
    sees only activity known by the end of D (known_date <= D, the day its
    event reached the warehouse) and persons first seen before then.
    Windowed features (orders_30d...) cover the var('customer_feature_windows_days')
    days that end with D. `persons_filter` (on person_id) limits the people. -#}
{% macro customer_features(dates_filter='true', persons_filter='true') -%}
{%- set windows = var('customer_feature_windows_days') -%}
{%- set summed = ['product_views', 'cart_adds', 'visits', 'email_deliveries', 'email_opens', 'email_clicks'] -%}
{%- set order_measures = ['orders', 'revenue'] -%}
with

feature_dates as (
    select
        as_of_date,
        cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as {{ dbt.type_timestamp() }}) as as_of_at
    from {{ ref('int_customers__feature_dates') }}
    where {{ dates_filter }}
),

activity_days as (
    select * from {{ ref('int_customers__activity_days') }}
    where {{ persons_filter }}
),

orders as (
    -- every person's orders: RFM quintiles rank each buyer among all buyers
    select * from {{ ref('fct_orders') }}
),

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
    where {{ persons_filter }}
),

known_activity as (
    select
        feature_dates.as_of_date,
        activity_days.person_id,

        -- lifetime
        max(activity_days.last_visit_at) as last_visit_at,
        max(activity_days.last_cart_add_at) as last_cart_add_at,
        max(activity_days.last_open_at) as last_open_at,
        max(activity_days.last_click_at) as last_click_at,
        min(activity_days.first_subscribed_at) as subscribed_at,
        {%- for measure in summed %}
        sum(activity_days.{{ measure }}) as {{ measure }}_lifetime,
        {%- endfor %}

        -- windows
        {%- for window in windows %}
        {%- set last_window = loop.last %}
        {%- for measure in summed %}
        sum(case
            when activity_days.activity_date > {{ dbt.dateadd('day', -window, 'feature_dates.as_of_date') }}
                then activity_days.{{ measure }}
            else 0
        end) as {{ measure }}_{{ window }}d{{ "," if not (loop.last and last_window) }}
        {%- endfor %}
        {%- endfor %}
    from activity_days
    inner join feature_dates
        on activity_days.known_date <= feature_dates.as_of_date
    group by 1, 2
),

standing_orders as (
    -- orders known by D and not cancelled or refunded by D; windows by order date
    select
        feature_dates.as_of_date,
        orders.person_id,
        count(*) as orders_lifetime,
        -- money in whole cents: the same sum on every engine, whatever the order of addition
        round(sum(orders.total_amount_reporting), 2) as revenue_lifetime,
        round(sum(orders.discount_amount_reporting), 2) as discount_lifetime,
        sum(orders.item_count) as items_lifetime,
        min(orders.ordered_at) as first_order_at,
        max(orders.ordered_at) as last_order_at,
        {%- for window in windows %}
        sum(case
            when orders.ordered_at >= {{ dbt.dateadd('day', -window, 'feature_dates.as_of_at') }} then 1 else 0
        end) as orders_{{ window }}d,
        round(sum(case
            when orders.ordered_at >= {{ dbt.dateadd('day', -window, 'feature_dates.as_of_at') }}
                then orders.total_amount_reporting
            else 0
        end), 2) as revenue_{{ window }}d{{ "," if not loop.last }}
        {%- endfor %}
    from orders
    inner join feature_dates
        on
            orders.known_at < feature_dates.as_of_at
            and (orders.reversed_at is null or orders.reversed_at >= feature_dates.as_of_at)
    where orders.person_id is not null
    group by 1, 2
),

everyone_seen as (
    -- every person (not only persons_filter's), for the buyers RFM ranks among
    select
        person_id,
        first_seen_at
    from {{ ref('int_customers__golden_records') }}
),

buyer_scores as (
    -- RFM quintiles among every buyer of the as-of date (ties share a score),
    -- whichever people the features are built for (persons_filter): buyers
    -- first seen by then, the people the features have a row for
    select
        standing_orders.as_of_date,
        standing_orders.person_id,
        least(5, 1 + floor(5 * percent_rank() over (partition by standing_orders.as_of_date order by standing_orders.last_order_at))) as recency_score,
        least(5, 1 + floor(5 * percent_rank() over (partition by standing_orders.as_of_date order by standing_orders.orders_lifetime))) as frequency_score,
        least(5, 1 + floor(5 * percent_rank() over (partition by standing_orders.as_of_date order by standing_orders.revenue_lifetime))) as monetary_score
    from standing_orders
    inner join feature_dates
        on standing_orders.as_of_date = feature_dates.as_of_date
    inner join everyone_seen
        on
            standing_orders.person_id = everyone_seen.person_id
            and everyone_seen.first_seen_at < feature_dates.as_of_at
),

spine as (
    select
        feature_dates.as_of_date,
        feature_dates.as_of_at,
        golden_records.person_id,
        golden_records.first_seen_at
    from golden_records
    inner join feature_dates
        on golden_records.first_seen_at < feature_dates.as_of_at
),

joined as (
    select
        spine.person_id,
        spine.as_of_date,
        spine.as_of_at,
        spine.first_seen_at,
        coalesce(standing_orders.orders_lifetime, 0) as orders_lifetime,
        coalesce(standing_orders.revenue_lifetime, 0) as revenue_lifetime,
        coalesce(standing_orders.discount_lifetime, 0) as discount_lifetime,
        coalesce(standing_orders.items_lifetime, 0) as items_lifetime,
        standing_orders.first_order_at,
        standing_orders.last_order_at,
        known_activity.last_visit_at,
        known_activity.last_cart_add_at,
        known_activity.last_open_at,
        known_activity.last_click_at,
        known_activity.subscribed_at,
        {%- for measure in summed %}
        coalesce(known_activity.{{ measure }}_lifetime, 0) as {{ measure }}_lifetime,
        {%- endfor %}
        {%- for window in windows %}
        {%- for measure in order_measures %}
        coalesce(standing_orders.{{ measure }}_{{ window }}d, 0) as {{ measure }}_{{ window }}d,
        {%- endfor %}
        {%- for measure in summed %}
        coalesce(known_activity.{{ measure }}_{{ window }}d, 0) as {{ measure }}_{{ window }}d,
        {%- endfor %}
        {%- endfor %}
        {{ mailroom.greatest_of(['standing_orders.last_order_at', 'known_activity.last_visit_at', 'known_activity.last_open_at', 'known_activity.last_click_at']) }} as last_active_at
    from spine
    left join known_activity
        on
            spine.person_id = known_activity.person_id
            and spine.as_of_date = known_activity.as_of_date
    left join standing_orders
        on
            spine.person_id = standing_orders.person_id
            and spine.as_of_date = standing_orders.as_of_date
),

derived as (
    select
        *,
        {{ dbt.datediff('first_seen_at', 'as_of_at', 'day') }} as tenure_days,
        {{ dbt.datediff('first_order_at', 'as_of_at', 'day') }} as days_since_first_order,
        {{ dbt.datediff('last_order_at', 'as_of_at', 'day') }} as days_since_last_order,
        {{ dbt.datediff('last_visit_at', 'as_of_at', 'day') }} as days_since_last_visit,
        {{ dbt.datediff('last_open_at', 'as_of_at', 'day') }} as days_since_last_open,
        {{ dbt.datediff('last_click_at', 'as_of_at', 'day') }} as days_since_last_click,
        -- never active: since first seen (a contact who never did anything is dormant too)
        {{ dbt.datediff('coalesce(last_active_at, first_seen_at)', 'as_of_at', 'day') }} as days_since_last_active,
        {{ dbt.datediff('subscribed_at', 'as_of_at', 'day') }} as days_since_subscribed,
        {{ dbt.datediff('last_cart_add_at', 'as_of_at', 'hour') }} as hours_since_last_cart_add,
        case
            when last_cart_add_at is null then null
            when last_order_at >= last_cart_add_at then 1
            else 0
        end as ordered_since_last_cart_add,
        case when orders_lifetime > 0 then revenue_lifetime / orders_lifetime end as avg_order_value,
        case
            when revenue_lifetime + discount_lifetime > 0
                then discount_lifetime / (revenue_lifetime + discount_lifetime)
        end as discount_share,
        case
            when email_deliveries_lifetime > 0 then least(1.0, 1.0 * email_opens_lifetime / email_deliveries_lifetime)
        end as open_rate_lifetime,
        case
            when email_deliveries_lifetime > 0 then least(1.0, 1.0 * email_clicks_lifetime / email_deliveries_lifetime)
        end as click_rate_lifetime,
        -- yearly rates over the time the person has been known (at least 30 days)
        {%- for measure in ['orders', 'visits', 'product_views', 'email_opens'] %}
        365.0 * {{ measure }}_lifetime / greatest({{ dbt.datediff('first_seen_at', 'as_of_at', 'day') }}, 30) as {{ measure }}_per_year,
        {%- endfor %}
        {%- for window in windows %}
        case
            when email_deliveries_{{ window }}d > 0
                then least(1.0, 1.0 * email_opens_{{ window }}d / email_deliveries_{{ window }}d)
        end as open_rate_{{ window }}d,
        case
            when email_deliveries_{{ window }}d > 0
                then least(1.0, 1.0 * email_clicks_{{ window }}d / email_deliveries_{{ window }}d)
        end as click_rate_{{ window }}d,
        {%- endfor %}
        case when orders_lifetime > 0 then 1 end as is_buyer
    from joined
),

scored as (
    select
        derived.*,
        buyer_scores.recency_score,
        buyer_scores.frequency_score,
        buyer_scores.monetary_score
    from derived
    left join buyer_scores
        on
            derived.person_id = buyer_scores.person_id
            and derived.as_of_date = buyer_scores.as_of_date
),

rfm as (
    select
        *,
        recency_score * 100 + frequency_score * 10 + monetary_score as rfm_score
    from scored
),

final as (
    select
        -- ids
        person_id,

        -- dates
        as_of_date,

        -- numbers: mailroom.customer_feature_names(), the features rules and models use
        {%- for feature in mailroom.customer_feature_names() %}
        {%- if feature.endswith('_score') %}
        cast({{ feature }} as integer) as {{ feature }},
        {%- else %}
        {{ feature }},
        {%- endif %}
        {%- endfor %}

        -- strings
        case
            when orders_lifetime <= 0 then 'prospect'
            when orders_lifetime = 1 and days_since_first_order <= {{ var('lifecycle_new_days') }} then 'new'
            when days_since_last_order <= {{ var('lifecycle_active_days') }} then 'active'
            when days_since_last_order <= {{ var('lifecycle_at_risk_days') }} then 'at_risk'
            else 'lapsed'
        end as lifecycle_stage,

        -- timestamps
        as_of_at,
        first_seen_at,
        first_order_at,
        last_order_at,
        last_visit_at,
        last_cart_add_at,
        last_open_at,
        last_click_at,
        last_active_at,
        subscribed_at
    from rfm
)

select * from final
{%- endmacro %}
