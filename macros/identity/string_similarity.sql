{#- Jaro-Winkler similarity of two texts, from 0 (nothing alike) to 1
    (identical), in whole hundredths; null when either is null. Snowflake's
    function answers in whole percent, so DuckDB's fraction is rounded to the
    same grain: a pair falls on the same side of a threshold on both. -#}
{% macro string_similarity(left, right) -%}
    {{ return(adapter.dispatch('string_similarity', 'mailroom')(left, right)) }}
{%- endmacro %}

{% macro default__string_similarity(left, right) -%}
    round(jaro_winkler_similarity({{ left }}, {{ right }}) * 100) / 100.0
{%- endmacro %}

{% macro snowflake__string_similarity(left, right) -%}
    jarowinkler_similarity({{ left }}, {{ right }}) / 100.0
{%- endmacro %}
