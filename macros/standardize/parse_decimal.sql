{#- Text amount to decimal(18, 2); null when it is not a number. -#}
{% macro parse_decimal(expr) -%}
    {{ return(adapter.dispatch('parse_decimal', 'mailroom')(expr)) }}
{%- endmacro %}

{% macro default__parse_decimal(expr) -%}
    try_to_decimal(trim({{ expr }}), 18, 2)
{%- endmacro %}

{% macro duckdb__parse_decimal(expr) -%}
    try_cast(trim({{ expr }}) as decimal(18, 2))
{%- endmacro %}
