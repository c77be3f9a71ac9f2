{#- The as-of date: var('as_of_date') when it is set, today (UTC) otherwise.
    as_of_timestamp() is the end of this day. -#}
{% macro as_of_date() -%}
    {%- set as_of = var('as_of_date', none) -%}
    {%- if as_of -%}
        cast('{{ as_of }}' as date)
    {%- else -%}
        cast({{ mailroom.utc_now() }} as date)
    {%- endif -%}
{%- endmacro %}
