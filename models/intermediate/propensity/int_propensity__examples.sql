{#- One row per propensity model, person and as-of date of the feature history:
    the person's label for the model and the part of the time split the row
    belongs to. The models (var purchase_horizon_days, churn_horizon_days,
    churn_population_days):

    - purchase: an order in the horizon after the as-of date, everyone;
    - churn: no order in the horizon, among people with an order in the
      churn_population_days up to the as-of date.

    An order counts for a label when it was placed in the window
    [as_of_at, as_of_at + horizon) and, as the label's cut-off knows it, was
    loaded and had not been cancelled or refunded. The cut-off of train rows
    is the validation date (a refund learnt later must not reach training);
    of validation and excluded rows, the scoring date.

    (The models and their populations: macro propensity_models; the scoring
    date's population is also int_propensity__scoring_population, which
    routine runs score without rebuilding this model.)

    Time split per model (no label window overlaps the features or labels it
    is judged against):
    - scoring: the scoring date; no label.
    - unlabelled: the label window has not ended by the scoring date.
    - validation: the newest as-of date whose label window has ended.
    - train: as-of dates whose label window ends by the validation date.
    - excluded: labelled, but the label window runs past the validation date. -#}
{%- set models = mailroom.propensity_models() -%}
with

feature_dates as (
    select * from {{ ref('int_customers__feature_dates') }}
),

feature_history as (
    select * from {{ ref('int_customers__feature_history') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

scoring_date as (
    select
        as_of_date,
        cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as {{ dbt.type_timestamp() }}) as as_of_at
    from feature_dates
    where is_scoring_date
),

model_dates as (
    {% for model in models -%}
        select
            '{{ model.name }}' as model_name,
            {{ model.horizon }} as horizon_days,
            cast({{ model.population_days }} as integer) as population_days,
            {{ model.positive_without_order }} as is_positive_without_order,
            feature_dates.as_of_date,
            feature_dates.is_scoring_date,
            cast({{ dbt.dateadd('day', model.horizon, 'feature_dates.as_of_date') }} as date) as label_window_end_date
        from feature_dates
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

matured as (
    select
        model_dates.*,
        model_dates.label_window_end_date <= scoring_date.as_of_date as is_label_matured
    from model_dates
    cross join scoring_date
),

validation_dates as (
    select
        model_name,
        max(as_of_date) as validation_date
    from matured
    where is_label_matured and not is_scoring_date
    group by 1
),

splits as (
    select
        matured.model_name,
        matured.horizon_days,
        matured.population_days,
        matured.is_positive_without_order,
        matured.as_of_date,
        matured.label_window_end_date,
        validation_dates.validation_date,
        case
            when matured.is_scoring_date then 'scoring'
            when not matured.is_label_matured then 'unlabelled'
            when matured.as_of_date = validation_dates.validation_date then 'validation'
            when matured.label_window_end_date <= validation_dates.validation_date then 'train'
            else 'excluded'
        end as split
    from matured
    left join validation_dates
        on matured.model_name = validation_dates.model_name
),

population as (
    select
        splits.model_name,
        splits.horizon_days,
        splits.is_positive_without_order,
        splits.split,
        splits.validation_date,
        feature_history.person_id,
        feature_history.as_of_date,
        feature_history.as_of_at as label_window_start_at,
        cast({{ dbt.dateadd('day', 'splits.horizon_days', 'feature_history.as_of_at') }} as {{ dbt.type_timestamp() }}) as label_window_end_at,
        case
            when splits.split = 'train'
                then cast({{ dbt.dateadd('day', 1, 'splits.validation_date') }} as {{ dbt.type_timestamp() }})
            else scoring_date.as_of_at
        end as label_cutoff_at
    from feature_history
    inner join splits
        on feature_history.as_of_date = splits.as_of_date
    cross join scoring_date
    where
        splits.population_days is null
        or feature_history.days_since_last_order <= splits.population_days
),

known_orders as (
    select
        order_id,
        person_id,
        ordered_at,
        known_at,
        reversed_at
    from orders
    where person_id is not null
),

window_orders as (
    select
        population.model_name,
        population.person_id,
        population.as_of_date,
        count(*) as orders_in_label_window
    from population
    inner join known_orders
        on
            population.person_id = known_orders.person_id
            and population.label_window_start_at <= known_orders.ordered_at
            and population.label_window_end_at > known_orders.ordered_at
            -- as the label's cut-off knows it: loaded, not cancelled or refunded
            and population.label_cutoff_at > known_orders.known_at
            and (known_orders.reversed_at is null or population.label_cutoff_at <= known_orders.reversed_at)
    where population.split in ('train', 'validation', 'excluded')
    group by 1, 2, 3
),

final as (
    select
        -- ids
        population.model_name,
        population.person_id,

        -- strings
        population.split,

        -- numbers
        population.horizon_days,
        case
            when population.split in ('train', 'validation', 'excluded')
                then coalesce(window_orders.orders_in_label_window, 0)
        end as orders_in_label_window,
        case
            when population.split not in ('train', 'validation', 'excluded') then null
            when (coalesce(window_orders.orders_in_label_window, 0) = 0) = population.is_positive_without_order then 1
            else 0
        end as label,

        -- booleans
        population.is_positive_without_order,

        -- dates
        population.as_of_date,
        population.validation_date,

        -- timestamps
        population.label_window_start_at,
        population.label_window_end_at,
        population.label_cutoff_at
    from population
    left join window_orders
        on
            population.model_name = window_orders.model_name
            and population.person_id = window_orders.person_id
            and population.as_of_date = window_orders.as_of_date
)

select * from final
