{#- One row per trained model version: the public face of the registry
    int_propensity__model_versions (everything but the fitted artifact), with
    whether the version is its model's current champion (the one scoring uses). -#}
with

model_versions as (
    select * from {{ ref('int_propensity__model_versions') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by model_name
            order by case when promoted_at is null then 1 else 0 end, promoted_at desc, model_version desc
        ) as promotion_rank
    from model_versions
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
        promotion_rank = 1 and promoted_at is not null as is_champion,

        -- dates
        cast(train_from_date as date) as train_from_date,
        cast(train_to_date as date) as train_to_date,
        cast(validation_date as date) as validation_date,

        -- timestamps
        trained_at,
        promoted_at
    from ranked
)

select * from final
