{#- Every propensity score ever published: one row per model, person and
    scored as-of date. Each build appends the scores of the current scoring
    date (fct_propensity_scores holds one as-of date); re-scoring an as-of
    date that is already here replaces all of that date's rows (delete+insert
    keyed on as_of_date, see _monitoring__models.yml), so a person who is no
    longer scored on that date (merged by identity resolution, out of the
    churn population) leaves no stale row behind. There is no lookback window:
    the new batch is always exactly the scoring date. Never rebuilt by
    --full-refresh (full_refresh: false): the past scores are what
    rpt_model_monitoring judges against the outcomes once their labels mature. -#}
with

fct_propensity_scores as (
    select * from {{ ref('fct_propensity_scores') }}
),

final as (
    select
        -- ids
        model_name,
        person_id,
        model_version,

        -- strings
        tier,

        -- numbers
        score,
        decile,

        -- dates
        cast(as_of_date as date) as as_of_date,

        -- timestamps
        scored_at
    from fct_propensity_scores
)

select * from final
