{#- The two-sided z of a confidence level (0.95 -> 1.959964), as a SQL literal
    with 12 decimals; the level must be in [0.5, 0.999999]. -#}
{% macro confidence_z(level) -%}
    {%- set c = level | float -%}
    {%- if c < 0.5 or c > 0.999999 -%}
        {{ exceptions.raise_compiler_error(
            "confidence level " ~ level ~ " is outside [0.5, 0.999999] (var campaign_confidence_level)"
        ) }}
    {%- endif -%}
    {{ return("%.12f" | format(mailroom.normal_quantile(1 - (1 - c) / 2))) }}
{%- endmacro %}
