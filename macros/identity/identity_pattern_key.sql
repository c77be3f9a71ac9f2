{#- The comparison levels as one text, the key of a pattern. -#}
{% macro identity_pattern_key(relation=none) -%}
    {%- set prefix = relation ~ '.' if relation else '' -%}
    {%- for name in mailroom.identity_comparison_names() -%}
        cast({{ prefix }}gamma_{{ name }} as varchar){% if not loop.last %} || '|' || {% endif %}
    {%- endfor -%}
{%- endmacro %}
