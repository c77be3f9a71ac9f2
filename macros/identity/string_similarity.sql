{#- Jaro-Winkler similarity of two texts, from 0 (nothing alike) to 1
    (identical); null when either is null. Snowflake's function answers in
    whole percent, DuckDB's as a fraction. -#}
{% macro string_similarity(left, right) -%}
    {{ return(adapter.dispatch('string_similarity', 'mailroom')(left, right)) }}
{%- endmacro %}

{% macro default__string_similarity(left, right) -%}
    jaro_winkler_similarity({{ left }}, {{ right }})
{%- endmacro %}

{% macro snowflake__string_similarity(left, right) -%}
    jarowinkler_similarity({{ left }}, {{ right }}) / 100.0
{%- endmacro %}
