{#- Training and scoring features come from one definition: the stacked
    history's rows at the scoring date are exactly the scoring features of the
    people in the history's sample (everyone below
    var('customer_feature_history_max_people')). -#}
with

features as (
    select * from {{ ref('int_customers__features') }}
),

feature_history as (
    select * from {{ ref('int_customers__feature_history') }}
),

feature_dates as (
    select * from {{ ref('int_customers__feature_dates') }}
),

scoring_history as (
    select feature_history.*
    from feature_history
    inner join feature_dates
        on feature_history.as_of_date = feature_dates.as_of_date
    where feature_dates.is_scoring_date
),

only_in_features as (
    select * from features
    where {{ mailroom.in_feature_history_sample('person_id') }}
    except
    select * from scoring_history
),

only_in_history as (
    select * from scoring_history
    except
    select * from features
),

final as (
    select
        'only in int_customers__features' as difference,
        person_id,
        as_of_date
    from only_in_features

    union all

    select
        'only in int_customers__feature_history' as difference,
        person_id,
        as_of_date
    from only_in_history
)

select * from final
