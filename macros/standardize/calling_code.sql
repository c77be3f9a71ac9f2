{#- Country calling code (no +) for an ISO alpha-2 code, through the `countries` seed
    (qualify the argument with its relation: the seed has a country_code column too);
    falls back to var('default_phone_country') when the country is unknown. -#}
{% macro calling_code(country_code_expr) -%}
    (
        select max(cast(countries.calling_code as {{ dbt.type_string() }}))
        from {{ ref('countries') }} as countries
        where countries.country_code = coalesce({{ country_code_expr }}, '{{ var("default_phone_country") }}')
    )
{%- endmacro %}
