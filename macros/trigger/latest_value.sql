{#- An aggregate: `value` of the row with the latest `at` among the rows where
    `value` is not null (ties: the greatest value), so that combining the
    same rows in any grouping gives the same answer. -#}
{% macro latest_value(value, at) -%}
    {{ return(adapter.dispatch('latest_value', 'mailroom')(value, at)) }}
{%- endmacro %}

{% macro default__latest_value(value, at) -%}
    max_by({{ value }}, case when {{ value }} is not null then {{ mailroom.latest_value_key(value, at) }} end)
{%- endmacro %}

{% macro duckdb__latest_value(value, at) -%}
    arg_max({{ value }}, case when {{ value }} is not null then {{ mailroom.latest_value_key(value, at) }} end)
{%- endmacro %}

{#- Seconds since 1900 (zero-padded, so that text order is time order), then the value. -#}
{% macro latest_value_key(value, at) -%}
    {{ dbt.concat([
        "lpad(cast(" ~ dbt.datediff("cast('1900-01-01' as " ~ dbt.type_timestamp() ~ ")", at, 'second') ~ " as " ~ dbt.type_string() ~ "), 12, '0')",
        "'|'",
        "cast(" ~ value ~ " as " ~ dbt.type_string() ~ ")",
    ]) }}
{%- endmacro %}
