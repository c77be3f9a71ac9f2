{#- One row per trigger audience (lane 'trigger' in seeds/audiences.csv) and
    qualifying person at the trigger lane's now (macro trigger_now), from
    fct_trigger_person_states:

    - cart_abandonment: a cart addition in the last
      var('trigger_cart_window_hours') and no order since;
    - browse_abandonment: a product view in the last
      var('trigger_browse_window_hours') and no cart addition or order since;
    - welcome_series: a sign-up, subscription or consent in the last
      var('trigger_welcome_window_days').

    The same holdout (a stable hash of audience and person), contactability
    (macro trigger_contactable) and frequency cap as every audience decide
    who is sendable. A trigger batch rebuilds the rows of the persons it
    touches; every other build, all of them. Erased persons are not here. -#}
{{ mailroom.trigger_person_model_config() }}

with

states as (
    select * from {{ ref('fct_trigger_person_states') }}
    where {{ mailroom.trigger_touched('person_id') }}
),

audiences as (
    select * from {{ ref('audiences') }}
    where lane = 'trigger'
),

customers as (
    select * from {{ ref('dim_customers') }}
),

send_preferences as (
    select * from {{ ref('fct_send_preferences') }}
),

evaluation as (
    select {{ mailroom.trigger_now() }} as evaluated_at
),

live_states as (
    select
        states.*,
        evaluation.evaluated_at
    from states
    cross join evaluation
    where states.erased_at is null
),

qualified as (
    select
        'cart_abandonment' as audience_id,
        person_id,
        last_cart_product_id as product_id,
        last_cart_add_at as triggered_at,
        evaluated_at
    from live_states
    where
        last_cart_add_at > {{ dbt.dateadd('hour', -1 * var('trigger_cart_window_hours'), 'evaluated_at') }}
        and last_cart_add_at <= evaluated_at
        and (last_order_at is null or last_order_at < last_cart_add_at)

    union all

    select
        'browse_abandonment' as audience_id,
        person_id,
        last_viewed_product_id as product_id,
        last_product_view_at as triggered_at,
        evaluated_at
    from live_states
    where
        last_product_view_at > {{ dbt.dateadd('hour', -1 * var('trigger_browse_window_hours'), 'evaluated_at') }}
        and last_product_view_at <= evaluated_at
        and (last_cart_add_at is null or last_cart_add_at < last_product_view_at)
        and (last_order_at is null or last_order_at < last_product_view_at)

    union all

    select
        'welcome_series' as audience_id,
        person_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        signed_up_at as triggered_at,
        evaluated_at
    from live_states
    where
        signed_up_at > {{ dbt.dateadd('day', -1 * var('trigger_welcome_window_days'), 'evaluated_at') }}
        and signed_up_at <= evaluated_at
),

judged as (
    select
        qualified.*,
        audiences.holdout_percent,
        coalesce(customers.email, states.email) as email,
        states.is_provisional,
        {{ mailroom.trigger_contactable('states', 'customers') }} as is_email_contactable,
        coalesce(send_preferences.is_frequency_capped, false) as is_frequency_capped,
        {{ mailroom.hash_bucket("qualified.audience_id || '|' || qualified.person_id") }} as holdout_bucket
    from qualified
    inner join audiences
        on qualified.audience_id = audiences.audience_id
    inner join states
        on qualified.person_id = states.person_id
    left join customers
        on qualified.person_id = customers.person_id
    left join send_preferences
        on qualified.person_id = send_preferences.person_id
),

final as (
    select
        -- ids
        audience_id,
        person_id,
        product_id,

        -- strings
        email,
        {{ mailroom.audience_exclusion_reason(
            'holdout_bucket', 'holdout_percent', 'is_email_contactable', 'is_frequency_capped'
        ) }} as exclusion_reason,

        -- numbers
        holdout_bucket,

        -- booleans
        is_provisional,
        {{ mailroom.audience_is_holdout('holdout_bucket', 'holdout_percent') }} as is_holdout,
        is_email_contactable,
        is_frequency_capped,
        {{ mailroom.audience_is_sendable(
            'holdout_bucket', 'holdout_percent', 'is_email_contactable', 'is_frequency_capped'
        ) }} as is_sendable,

        -- timestamps
        triggered_at,
        evaluated_at
    from judged
)

select * from final
