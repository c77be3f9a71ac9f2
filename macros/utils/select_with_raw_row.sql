{#- Every column of `relation` but the raw__ copies of macro raw_columns, plus
    raw_row: the raw values as JSON for quarantined rows (null for the others,
    whose values are the staged row's). -#}
{% macro select_with_raw_row(relation, columns) -%}
    select
        * exclude ({% for c in (columns or ['row']) %}raw__{{ c }}{{ ", " if not loop.last }}{% endfor %}),
        case
            when quarantine_reason is not null then {{ mailroom.raw_row_json(columns, column_prefix='raw__') }}
        end as raw_row
    from {{ relation }}
{%- endmacro %}
