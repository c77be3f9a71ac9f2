{#- ISO text date (`YYYY-MM-DD`) to a date; null otherwise. -#}
{% macro parse_date(expr) -%}
    {{ return(adapter.dispatch('parse_date', 'mailroom')(expr)) }}
{%- endmacro %}

{% macro default__parse_date(expr) -%}
    try_to_date(trim({{ expr }}), 'YYYY-MM-DD')
{%- endmacro %}

{% macro duckdb__parse_date(expr) -%}
    case when {{ mailroom.regex_matches("trim(" ~ expr ~ ")", '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
        then try_cast(trim({{ expr }}) as date) end
{%- endmacro %}
