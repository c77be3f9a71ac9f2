{#- The as-of dates features are computed for: the as-of date itself (scoring)
    and var('customer_feature_history_snapshots') earlier dates,
    var('customer_feature_history_interval_days') apart (training). -#}
with

offsets as (
    {% for snapshot in range(var('customer_feature_history_snapshots') + 1) -%}
        select {{ snapshot }} as snapshot_number
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        -- dates
        cast({{ dbt.dateadd(
            'day',
            '-1 * snapshot_number * ' ~ var('customer_feature_history_interval_days'),
            mailroom.as_of_date()
        ) }} as date) as as_of_date,

        -- numbers
        snapshot_number,

        -- booleans
        snapshot_number = 0 as is_scoring_date
    from offsets
)

select * from final
