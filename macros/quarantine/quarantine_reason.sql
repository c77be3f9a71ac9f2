{#- The first failing check of a row, as a reason code (null when the row is clean).
    `checks` is a list of (condition, reason_code, column) triples in priority order. -#}
{% macro quarantine_reason(checks) -%}
    case
        {%- for condition, code, column in checks %}
        when {{ condition }} then '{{ code }}'
        {%- endfor %}
    end
{%- endmacro %}
