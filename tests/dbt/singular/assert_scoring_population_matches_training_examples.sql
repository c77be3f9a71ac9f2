with

examples as (
    select * from {{ ref('int_propensity__examples') }}
),

scoring_population as (
    select * from {{ ref('int_propensity__scoring_population') }}
),

scoring_examples as (
    select
        model_name,
        person_id
    from examples
    where split = 'scoring'
),

population as (
    -- the examples are built from the training history's person sample
    select
        model_name,
        person_id
    from scoring_population
    where {{ mailroom.in_feature_history_sample('person_id') }}
),

only_in_examples as (
    select * from scoring_examples
    except
    select * from population
),

only_in_population as (
    select * from population
    except
    select * from scoring_examples
),

final as (
    select
        'only in int_propensity__examples' as difference,
        model_name,
        person_id
    from only_in_examples
    union all
    select
        'only in int_propensity__scoring_population' as difference,
        model_name,
        person_id
    from only_in_population
)

select * from final
