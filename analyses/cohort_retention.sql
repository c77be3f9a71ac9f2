{#- Cohort retention: customers grouped by the month of their first completed
    order; for each cohort and each month 0..12 after it, the share of the
    cohort that placed a completed order in that month (month 0 is 1 by
    definition). Months after the as-of date are not observed and not listed;
    the as-of date's own month is flagged partial.
    Run: dbt compile --select cohort_retention, then query
    target/compiled/mailroom/analyses/cohort_retention.sql. -#}
with

orders as (
    select * from {{ ref('fct_orders') }}
),

order_months as (
    select distinct
        person_id,
        cast({{ dbt.date_trunc('month', 'ordered_at') }} as date) as order_month
    from orders
    where
        is_completed
        and person_id is not null
        and ordered_at < {{ mailroom.as_of_timestamp() }}
),

cohorts as (
    select
        person_id,
        min(order_month) as cohort_month
    from order_months
    group by 1
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from cohorts
    group by 1
),

month_offsets as (
    {{ dbt.generate_series(13) }}
),

cohort_months as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        month_offsets.generated_number - 1 as month_number,
        cast({{ dbt.dateadd('month', 'month_offsets.generated_number - 1', 'cohort_sizes.cohort_month') }} as date) as activity_month
    from cohort_sizes
    cross join month_offsets
),

cohort_activity as (
    select
        cohorts.cohort_month,
        {{ dbt.datediff('cohorts.cohort_month', 'order_months.order_month', 'month') }} as month_number,
        count(*) as ordering_customers
    from cohorts
    inner join order_months
        on cohorts.person_id = order_months.person_id
    group by 1, 2
),

final as (
    select
        cohort_months.cohort_month,
        cohort_months.month_number,
        cohort_months.activity_month,
        cohort_months.cohort_size,
        coalesce(cohort_activity.ordering_customers, 0) as ordering_customers,
        1.0 * coalesce(cohort_activity.ordering_customers, 0) / cohort_months.cohort_size as retention_share,
        cohort_months.activity_month = cast({{ dbt.date_trunc('month', mailroom.as_of_date()) }} as date) as is_partial_month
    from cohort_months
    left join cohort_activity
        on
            cohort_months.cohort_month = cohort_activity.cohort_month
            and cohort_months.month_number = cohort_activity.month_number
    -- months after the as-of date are not observed yet
    where cohort_months.activity_month <= {{ mailroom.as_of_date() }}
)

select * from final
order by 1, 2
