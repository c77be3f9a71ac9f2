{#- The raw values of a row as one JSON text, for the quarantine. `columns` is
    a list of column names; `relation_alias` qualifies them when the select
    joins several relations; the values are read from `column_prefix` ~ name
    (the raw__ copies of macro raw_columns), the keys are the names. -#}
{% macro raw_row_json(columns, relation_alias=none, column_prefix='') -%}
    {%- if not columns -%}{{ return("cast(null as " ~ dbt.type_string() ~ ")") }}{%- endif -%}
    {%- set prefix = (relation_alias ~ "." if relation_alias else "") ~ column_prefix -%}
    {{ return(adapter.dispatch('raw_row_json', 'mailroom')(columns, prefix)) }}
{%- endmacro %}

{% macro default__raw_row_json(columns, prefix) -%}
    to_json(object_construct_keep_null(
        {%- for c in columns %}'{{ c }}', {{ prefix }}{{ c }}{{ "," if not loop.last }}{% endfor -%}
    ))
{%- endmacro %}

{% macro duckdb__raw_row_json(columns, prefix) -%}
    cast(to_json({
        {%- for c in columns %}'{{ c }}': {{ prefix }}{{ c }}{{ "," if not loop.last }}{% endfor -%}
    }) as varchar)
{%- endmacro %}
