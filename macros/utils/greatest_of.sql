{#- The largest non-null of the expressions, null when all are null (greatest()
    is null as soon as one argument is on Snowflake and some other engines). -#}
{% macro greatest_of(expressions) -%}
    case
    {%- for expression in expressions %}
        when {{ expression }} is not null
            {%- for other in expressions if other != expression %}
            and ({{ other }} is null or {{ expression }} >= {{ other }})
            {%- endfor %}
            then {{ expression }}
    {%- endfor %}
    end
{%- endmacro %}
