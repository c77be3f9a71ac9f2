{#- The calendar MetricFlow joins metrics to (metric_time): one row per day
    from var time_spine_start_date to var time_spine_end_date. The day count is
    worked out while compiling, so no query runs at parse time. -#}
{%- set start_date = modules.datetime.date.fromisoformat(var('time_spine_start_date')) -%}
{%- set end_date = modules.datetime.date.fromisoformat(var('time_spine_end_date')) -%}
{%- set day_count = (end_date - start_date).days + 1 -%}

with

day_numbers as (
    {{ dbt.generate_series(day_count) }}
),

final as (
    select
        -- dates
        cast(
            {{ dbt.dateadd('day', 'generated_number - 1', "cast('" ~ start_date ~ "' as date)") }} as date
        ) as date_day
    from day_numbers
)

select * from final
