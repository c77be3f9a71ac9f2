{#- The comparisons of the probabilistic step (Fellegi-Sunter), in pattern
    key order; their levels are in identity_comparison_levels. -#}
{% macro identity_comparison_names() -%}
    {{ return(['first_name', 'last_name', 'birth_date', 'address', 'email_local', 'phone']) }}
{%- endmacro %}
