{#- One row per propensity model, person and as-of date in the train and
    validation parts of the time split: the label and the point-in-time
    features (mailroom.customer_feature_names()) the models learn from, and
    the point-in-time order history the models' BTYD feature is computed from
    (as_of_at, first_seen_at, first_order_at, last_order_at with the catalog's
    orders_lifetime and avg_order_value; mailroom.pymodels.btyd).

    At most var('propensity_max_training_rows') train rows and
    var('propensity_max_validation_rows') validation rows per model are kept,
    chosen by a hash of person and date (deterministic, spread over every
    date), so training time is bounded whatever the number of customers. -#}
with

examples as (
    select * from {{ ref('int_propensity__examples') }}
),

feature_history as (
    select * from {{ ref('int_customers__feature_history') }}
),

labelled as (
    select
        examples.model_name,
        examples.person_id,
        examples.as_of_date,
        examples.split,
        examples.horizon_days,
        examples.label,
        examples.is_positive_without_order,
        row_number() over (
            partition by examples.model_name, examples.split
            order by {{ dbt.hash("examples.person_id || '|' || cast(examples.as_of_date as " ~ dbt.type_string() ~ ")") }}, examples.person_id, examples.as_of_date
        ) as sample_rank
    from examples
    where examples.split in ('train', 'validation')
),

sampled as (
    select * from labelled
    where
        (split = 'train' and sample_rank <= {{ var('propensity_max_training_rows') }})
        or (split = 'validation' and sample_rank <= {{ var('propensity_max_validation_rows') }})
),

final as (
    select
        -- ids
        sampled.model_name,
        sampled.person_id,

        -- strings
        sampled.split,

        -- numbers
        sampled.horizon_days,
        sampled.label,
        {%- for feature in mailroom.customer_feature_names() %}
            feature_history.{{ feature }},
        {%- endfor %}

        -- booleans
        sampled.is_positive_without_order,

        -- dates
        sampled.as_of_date,

        -- timestamps: the order history of the BTYD feature
        feature_history.as_of_at,
        feature_history.first_seen_at,
        feature_history.first_order_at,
        feature_history.last_order_at
    from sampled
    inner join feature_history
        on
            sampled.person_id = feature_history.person_id
            and sampled.as_of_date = feature_history.as_of_date
)

select * from final
