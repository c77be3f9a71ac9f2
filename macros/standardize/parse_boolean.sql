{#- true/false/yes/no/1/0/t/f/y/n (any case) to a boolean; null otherwise. -#}
{% macro parse_boolean(expr) -%}
    case
        when lower(trim({{ expr }})) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim({{ expr }})) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}
