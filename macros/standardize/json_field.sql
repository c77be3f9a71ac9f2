{#- One top-level field of a JSON text, as text. -#}
{% macro json_field(expr, key) -%}
    {{ return(adapter.dispatch('json_field', 'mailroom')(expr, key)) }}
{%- endmacro %}

{% macro default__json_field(expr, key) -%}
    get_path(try_parse_json({{ expr }}), '{{ key }}')::varchar
{%- endmacro %}

{% macro duckdb__json_field(expr, key) -%}
    case when json_valid({{ expr }}) then json_extract_string({{ expr }}, '$.{{ key }}') end
{%- endmacro %}
