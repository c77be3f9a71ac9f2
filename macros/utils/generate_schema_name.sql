{#- Custom schemas are used verbatim (raw, staging, intermediate, marts), the
    same on every target, so analysts, dashboards and the sync find the marts
    at one stable name. Models without a custom schema go to the target's. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
