{#- The columns a source table declares in the raw-data contract (sources YAML). -#}
{% macro source_columns(source_name, table_name) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set node = (graph.get('sources') or {}).values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name) | first -%}
    {{ return(node.columns.keys() | list if node else []) }}
{%- endmacro %}
