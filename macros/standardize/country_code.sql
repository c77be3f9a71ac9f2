{#- ISO-3166 alpha-2 code for a country as typed (code, name, local name),
    through the `country_aliases` seed. Null when unknown. -#}
{% macro country_code(expr) -%}
    (
        select max(country_aliases.country_code)
        from {{ ref('country_aliases') }} as country_aliases
        where country_aliases.alias = lower(trim({{ expr }}))
    )
{%- endmacro %}
