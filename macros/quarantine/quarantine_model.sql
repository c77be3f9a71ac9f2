{#- Body of a per-source quarantine model: every quarantined row of the given
    base models, with the rule text from the `quarantine_rules` seed and a
    stable row id. `tables` is a list of (source_table, base_model, key_column). -#}
{% macro quarantine_model(tables) -%}
with

{% for source_table, base_model, key in tables -%}
{{ base_model }} as (
    select * from {{ ref(base_model) }}
),

{% endfor -%}
quarantine_rules as (
    select * from {{ ref('quarantine_rules') }}
),

unioned as (
    {{ mailroom.quarantined_rows(tables | map('list') | list) }}
),

final as (
    select
        unioned.source_table || ':' || coalesce(unioned.record_id, '<missing>') || ':' || cast(
            row_number() over (
                partition by unioned.source_table, unioned.record_id
                order by unioned._loaded_at, unioned.raw_row
            ) as {{ dbt.type_string() }}
        ) as quarantined_row_id,
        unioned.source_table,
        unioned.record_id,
        unioned.quarantine_reason,
        unioned.quarantine_column,
        quarantine_rules.rule as quarantine_rule,
        unioned.raw_row,
        unioned._loaded_at
    from unioned
    left join quarantine_rules
        on unioned.quarantine_reason = quarantine_rules.reason_code
)

select * from final
{%- endmacro %}
