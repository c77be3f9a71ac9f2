{#- Who each propensity model scores at the as-of date: its population
    (macro propensity_models) among the scoring features. The training
    examples' scoring rows are the same people (tested); this model is cheap
    and is rebuilt by routine runs that do not retrain. -#}
{%- set models = mailroom.propensity_models() -%}
with

features as (
    select * from {{ ref('int_customers__features') }}
),

final as (
    {% for model in models -%}
        select
            -- ids
            '{{ model.name }}' as model_name,
            person_id,

            -- dates
            as_of_date
        from features
        where
            cast({{ model.population_days }} as integer) is null
            or days_since_last_order <= {{ model.population_days }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from final
