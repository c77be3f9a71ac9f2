{#- Text to integer; null unless the text is a whole number (`2.5` is not rounded). -#}
{% macro parse_integer(expr) -%}
    case when {{ mailroom.regex_matches("trim(" ~ expr ~ ")", '[+-]?[0-9]+') }}
        then {{ adapter.dispatch('parse_integer', 'mailroom')(expr) }} end
{%- endmacro %}

{% macro default__parse_integer(expr) -%}
    try_to_number(trim({{ expr }}))
{%- endmacro %}

{% macro duckdb__parse_integer(expr) -%}
    try_cast(trim({{ expr }}) as bigint)
{%- endmacro %}
