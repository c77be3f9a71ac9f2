{#- The list lengths the offline evaluation reports: var('recommendation_eval_k')
    and var('recommendation_count'), sorted, each once. -#}
{% macro recommendation_eval_ks() -%}
    {%- set ks = var('recommendation_eval_k') | list + [var('recommendation_count')] -%}
    {{- return(ks | map('int') | unique | sort | list) -}}
{%- endmacro %}
