{#- The blocking rules of var identity_blocking_rules, each as
    {'columns': [...], 'max_block_size': n}. A rule is written as a list of
    columns of int_identity__comparable_records, or as a mapping with
    `columns` and its own `max_block_size` (default: var
    identity_max_block_size): a key whose blocks only mean something when
    they are small (both names) is compared below its own limit. -#}
{% macro identity_blocking_rules() -%}
    {%- set rules = [] -%}
    {%- for rule in var('identity_blocking_rules') -%}
        {%- if rule is mapping -%}
            {%- do rules.append({
                'columns': rule['columns'],
                'max_block_size': rule.get('max_block_size', var('identity_max_block_size')),
            }) -%}
        {%- else -%}
            {%- do rules.append({'columns': rule, 'max_block_size': var('identity_max_block_size')}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}
