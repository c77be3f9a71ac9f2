{#- The propensity models and who is in each one's population, in one place
    for training (int_propensity__examples) and scoring
    (int_propensity__scoring_population):
    - purchase: an order in the next purchase_horizon_days, everyone;
    - churn: no order in the next churn_horizon_days, among people with an
      order in the churn_population_days up to the as-of date.
    `population_days` is SQL text ('null' for everyone). -#}
{% macro propensity_models() -%}
    {{ return([
        {'name': 'purchase', 'horizon': var('purchase_horizon_days'), 'population_days': 'null', 'positive_without_order': 'false'},
        {'name': 'churn', 'horizon': var('churn_horizon_days'), 'population_days': var('churn_population_days'), 'positive_without_order': 'true'},
    ]) }}
{%- endmacro %}
