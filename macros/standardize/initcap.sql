{#- Capitalize the first letter after a space, hyphen or apostrophe, lower-case the rest. -#}
{% macro initcap(expr) -%}
    {{ return(adapter.dispatch('initcap', 'mailroom')(expr)) }}
{%- endmacro %}

{% macro default__initcap(expr) -%}
    initcap({{ expr }}, ' -''')
{%- endmacro %}

{% macro duckdb__initcap(expr) -%}
    {%- set ns = namespace(out="lower(" ~ expr ~ ")") -%}
    {%- for sep in [" ", "-", "''"] -%}
        {%- set ns.out = "array_to_string(list_transform(string_split(" ~ ns.out ~ ", '" ~ sep ~ "'), lambda w: upper(left(w, 1)) || substr(w, 2)), '" ~ sep ~ "')" -%}
    {%- endfor -%}
    {{ ns.out }}
{%- endmacro %}
