{#- Text to integer; null when it is not a whole number. -#}
{% macro parse_integer(expr) -%}
    {{ return(adapter.dispatch('parse_integer', 'mailroom')(expr)) }}
{%- endmacro %}

{% macro default__parse_integer(expr) -%}
    try_to_number(trim({{ expr }}))
{%- endmacro %}

{% macro duckdb__parse_integer(expr) -%}
    try_cast(trim({{ expr }}) as bigint)
{%- endmacro %}
