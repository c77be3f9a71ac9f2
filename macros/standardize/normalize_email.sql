{#- Trimmed, lower-cased e-mail; empty strings become null. -#}
{% macro normalize_email(expr) -%}
    nullif(lower(trim({{ expr }})), '')
{%- endmacro %}
