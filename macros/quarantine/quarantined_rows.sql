{#- Union of the quarantined rows of several base CTEs. `tables` is a list of
    (source_table, cte_name, key_column). -#}
{% macro quarantined_rows(tables) -%}
    {%- for source_table, cte, key in tables %}
    select
        '{{ source_table }}' as source_table,
        cast({{ key }} as {{ dbt.type_string() }}) as record_id,
        quarantine_reason,
        quarantine_column,
        raw_row,
        _loaded_at
    from {{ cte }}
    where quarantine_reason is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
