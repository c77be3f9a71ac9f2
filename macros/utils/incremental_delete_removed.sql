{#- Post-hook of an incremental base model: delete the rows whose key no
    longer has a row in the raw table (a loader that deletes, a raw row
    removed by hand), as a full refresh would not have them. Rows of other
    keys are untouched; nothing runs when the model was built in full. -#}
{% macro incremental_delete_removed(relation, key) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where _batch_key not in (
            select {{ mailroom.incremental_batch_key(key) }} from {{ relation }}
        )
    {%- endif -%}
{%- endmacro %}
