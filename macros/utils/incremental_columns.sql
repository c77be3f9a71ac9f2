{#- The bookkeeping columns of an incremental base model: its batch key, the
    future limit its rows were checked against, and when the run that
    computed the row started (downstream incremental models read it). -#}
{% macro incremental_columns(key) -%}
    {{ mailroom.incremental_batch_key(key) }} as _batch_key,
    {{ mailroom.future_limit() }} as _checked_future_limit,
    {{ mailroom.run_started_timestamp() }} as _processed_at
{%- endmacro %}
