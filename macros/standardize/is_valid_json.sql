{#- True when the text parses as JSON (null text counts as valid: nothing to parse). -#}
{% macro is_valid_json(expr) -%}
    {{ return(adapter.dispatch('is_valid_json', 'mailroom')(expr)) }}
{%- endmacro %}

{% macro default__is_valid_json(expr) -%}
    ({{ expr }} is null or check_json({{ expr }}) is null)
{%- endmacro %}

{% macro duckdb__is_valid_json(expr) -%}
    ({{ expr }} is null or coalesce(json_valid({{ expr }}), false))
{%- endmacro %}
