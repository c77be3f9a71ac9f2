{#- One row per person a trigger batch must look at again, and each e-mail
    they are known by (the last routine build's golden e-mail and the latest
    one of their signals; the sync reads them to find what the ESP holds for
    the person). In a trigger batch: the persons with new signals, and those
    whose trigger audience window closed since the previous batch (a cart
    addition older than var('trigger_cart_window_hours') now). In every other
    build: every person with a trigger state. -#}
{{ config(tags=['trigger']) }}

with

signals as (
    select * from {{ ref('int_trigger__signals') }}
),

states as (
    select * from {{ ref('fct_trigger_person_states') }}
),

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

touched as (
    select person_id from signals

    union

    select person_id
    from states
    {%- if mailroom.is_trigger_batch() %}
        where
        {%- set windows = [
            ('last_cart_add_at', 'hour', var('trigger_cart_window_hours')),
            ('last_product_view_at', 'hour', var('trigger_browse_window_hours')),
            ('signed_up_at', 'day', var('trigger_welcome_window_days')),
        ] %}
        {%- for column, unit, size in windows %}
            (
                {{ dbt.dateadd(unit, size, column) }} > {{ mailroom.trigger_batch_value('previous_now') }}
                and {{ dbt.dateadd(unit, size, column) }} <= {{ mailroom.trigger_batch_value('batch_now') }}
            ){{ " or" if not loop.last }}
        {%- endfor %}
    {%- endif %}
),

emails as (
    select
        touched.person_id,
        states.email
    from touched
    inner join states
        on touched.person_id = states.person_id
    where states.email is not null

    union

    select
        touched.person_id,
        golden_records.email
    from touched
    inner join golden_records
        on touched.person_id = golden_records.person_id
    where golden_records.email is not null
),

final as (
    select
        -- ids
        touched.person_id,

        -- strings
        emails.email
    from (select distinct person_id from touched) as touched
    left join emails
        on touched.person_id = emails.person_id
)

select * from final
