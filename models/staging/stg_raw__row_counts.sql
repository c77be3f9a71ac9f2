{#- Rows per raw table, counted straight from the sources, so the reconciliation
    does not trust the base models it checks. -#}

with

counted as (
    {% for source_name, table, _ in mailroom.raw_tables() -%}
        select
            '{{ source_name }}' as source_name,
            '{{ table }}' as source_table,
            count(*) as raw_rows
        from {{ source(source_name, table) }}
        {% if not loop.last %}union all
        {% endif %}
    {%- endfor %}
)

select * from counted
