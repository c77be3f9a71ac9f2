{#- The key an incremental base model is re-computed by (delete+insert):
    the record's trimmed key, or one shared '<no key>' for rows without one
    (they are quarantined as missing_key and re-computed together). -#}
{% macro incremental_batch_key(key) -%}
    coalesce(nullif(trim({{ key }}), ''), '<no key>')
{%- endmacro %}
