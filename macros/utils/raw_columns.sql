{#- The raw source columns carried as raw__<name>, for select_with_raw_row: the
    quarantine's JSON of the raw row is then built only for quarantined rows
    (building it for every row was most of the staging time: 16 s per million
    web events on one core, against 2 s when built for the 1% quarantined).
    `columns` is a list of column names (empty at parse time and in unit tests:
    a placeholder column then stands in). -#}
{% macro raw_columns(columns, relation_alias=none) -%}
    {%- set prefix = relation_alias ~ "." if relation_alias else "" -%}
    {%- if columns -%}
        {%- for c in columns %}{{ prefix }}{{ c }} as raw__{{ c }}{{ ",\n        " if not loop.last }}{% endfor -%}
    {%- else -%}
        cast(null as {{ dbt.type_string() }}) as raw__row
    {%- endif -%}
{%- endmacro %}
