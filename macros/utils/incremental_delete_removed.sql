{#- Post-hook of an incremental base model: delete the rows whose key no
    longer has a row in the raw table (a loader that deletes, a raw row
    removed by hand), as a full refresh would not have them. Rows of other
    keys are untouched; nothing runs when the model was built in full, nor in
    a trigger batch: the check reads the whole raw table and the whole model,
    so the next routine build removes what was deleted (docs/trigger.md). -#}
{% macro incremental_delete_removed(relation, key) -%}
    {%- if is_incremental() and not mailroom.is_trigger_batch() -%}
        delete from {{ this }}
        where _batch_key not in (
            select {{ mailroom.incremental_batch_key(key) }} from {{ relation }}
        )
    {%- endif -%}
{%- endmacro %}
