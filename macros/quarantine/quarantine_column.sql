{#- The column whose check failed first (see quarantine_reason). -#}
{% macro quarantine_column(checks) -%}
    case
        {%- for condition, code, column in checks %}
        when {{ condition }} then '{{ column }}'
        {%- endfor %}
    end
{%- endmacro %}
