{#- The moment "now" stands for: the end of var('as_of_date') when it is set
    (the sample world, backfills, tests), the wall clock otherwise. -#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of -%}
        cast({{ dbt.dateadd('day', 1, "cast('" ~ as_of ~ "' as date)") }} as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ mailroom.utc_now() }}
    {%- endif -%}
{%- endmacro %}
