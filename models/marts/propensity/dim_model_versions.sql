{#- One row per trained model version: the public face of the registry
    int_propensity__model_versions (everything but the fitted artifact), with
    whether the version is its model's champion at the scoring date (the one
    fct_propensity_scores uses): the latest promotion among the versions whose
    data ended by that date.

    The small-data flag came later: a registry last trained before it (a
    routine run does not retrain) lacks its columns, which read as null. -#}
{%- set registry_columns = [] -%}
{%- if execute -%}
    {%- set registry = load_relation(ref('int_propensity__model_versions')) -%}
    {%- if registry is not none -%}
        {%- for column in adapter.get_columns_in_relation(registry) -%}
            {%- do registry_columns.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endif %}
with

model_versions as (
    select * from {{ ref('int_propensity__model_versions') }}
),

feature_dates as (
    select * from {{ ref('int_customers__feature_dates') }}
),

scoring_date as (
    select as_of_date from feature_dates
    where is_scoring_date
),

eligible as (
    select
        model_versions.*,
        model_versions.promoted_at is not null
        and cast(model_versions.data_as_of_date as date) <= scoring_date.as_of_date as is_eligible
    from model_versions
    cross join scoring_date
),

ranked as (
    select
        *,
        row_number() over (
            partition by model_name
            order by
                case when is_eligible then 0 else 1 end asc,
                data_as_of_date desc nulls last,
                promoted_at desc nulls last,
                model_version desc
        ) as promotion_rank
    from eligible
),

final as (
    select
        -- ids
        model_version,
        model_name,
        champion_version,
        training_fingerprint,

        -- strings
        algorithm,
        features,
        parameters,
        lift_by_decile,
        calibration,
        feature_importance,
        baseline_lift_by_decile,
        promotion_reason,
        registry_model_name,
        {% if 'small_data_reason' in registry_columns -%}
            small_data_reason,
        {%- else -%}
            cast(null as {{ dbt.type_string() }}) as small_data_reason,
        {%- endif %}

        -- numbers
        train_rows,
        train_positives,
        validation_rows,
        validation_positives,
        roc_auc,
        pr_auc,
        brier,
        log_loss,
        baseline_roc_auc,
        baseline_pr_auc,
        baseline_brier,
        baseline_log_loss,
        champion_roc_auc,

        -- booleans
        is_promoted,
        promotion_rank = 1 and is_eligible as is_champion,
        {% if 'is_small_data' in registry_columns -%}
            is_small_data,
        {%- else -%}
            cast(null as {{ dbt.type_boolean() }}) as is_small_data,
        {%- endif %}

        -- dates
        cast(train_from_date as date) as train_from_date,
        cast(train_to_date as date) as train_to_date,
        cast(validation_date as date) as validation_date,
        cast(data_as_of_date as date) as data_as_of_date,

        -- timestamps
        trained_at,
        promoted_at
    from ranked
)

select * from final
