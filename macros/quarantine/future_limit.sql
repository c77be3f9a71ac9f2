{#- Latest believable timestamp: the as-of time plus var('future_tolerance_hours'). -#}
{% macro future_limit() -%}
    {{ dbt.dateadd('hour', var('future_tolerance_hours'), mailroom.as_of_timestamp()) }}
{%- endmacro %}
