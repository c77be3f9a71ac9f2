{#- A content template with every {variable} replaced by the row's value, or
    by the variable's fallback when the value is null: nested replace() calls,
    the same on every warehouse. -#}
{% macro fill_template(template, variables, values_relation, fallbacks_relation) -%}
    {%- set filled = namespace(sql=template) -%}
    {%- for variable in variables -%}
        {%- set filled.sql = "replace(" ~ filled.sql ~ ", '{" ~ variable ~ "}', coalesce("
            ~ values_relation ~ "." ~ variable ~ ", " ~ fallbacks_relation ~ "." ~ variable ~ "_fallback))" -%}
    {%- endfor -%}
    {{ filled.sql }}
{%- endmacro %}

{#- The variables the templates use that the row has no value for, as
    'a|b' (null when none). -#}
{% macro missing_template_variables(templates, variables, values_relation) -%}
    nullif(rtrim(
    {%- for variable in variables %}
        case
            when {{ values_relation }}.{{ variable }} is null and (
                {%- for template in templates %}
                {{ template }} like '%{{ '{' ~ variable ~ '}' }}%'{% if not loop.last %} or{% endif %}
                {%- endfor %}
            ) then '{{ variable }}|'
            else ''
        end{% if not loop.last %} ||{% endif %}
    {%- endfor %}, '|'), '')
{%- endmacro %}
