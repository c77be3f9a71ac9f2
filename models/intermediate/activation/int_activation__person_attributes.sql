{#- One row per person: what activation rules (audiences, content rules) test,
    flattened so that a rule is a few string comparisons: the person's
    segments as '|a|b|', their propensity tiers as '|purchase:high|churn:safe|',
    their learned cluster, and whether they may be e-mailed. -#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

person_states as (
    select * from {{ ref('int_segments__person_states') }}
),

scores as (
    select * from {{ ref('fct_propensity_scores') }}
),

person_scores as (
    select
        person_id,
        '|' || {{ dbt.listagg("model_name || ':' || tier", "'|'", "order by model_name") }} || '|' as model_tiers
    from scores
    group by 1
),

final as (
    select
        -- ids
        customers.person_id,

        -- strings
        '|' || coalesce(person_states.segment_ids, '') || '|' as segment_ids,
        coalesce(person_scores.model_tiers, '|') as model_tiers,
        customers.cluster_label,

        -- booleans
        customers.is_email_contactable
    from customers
    left join person_states
        on customers.person_id = person_states.person_id
    left join person_scores
        on customers.person_id = person_scores.person_id
)

select * from final
