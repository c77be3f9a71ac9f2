{#- The offline evaluation's split: var('recommendation_eval_days') days before
    the as-of timestamp. Recommendations are made with what was known before it
    and judged on what people bought from then to the as-of timestamp. -#}
{% macro recommendation_split_at() -%}
    cast({{ dbt.dateadd('day', -var('recommendation_eval_days'), mailroom.as_of_timestamp()) }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
