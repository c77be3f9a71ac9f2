{#- Syntax check of a normalized e-mail: one @, a dotted local part without
    empty segments (letters, digits, _ % + - and the apostrophe of O'Brien), a domain of labels and a top-level domain of 2+ letters. -#}
{% macro is_valid_email(expr) -%}
    coalesce({{ mailroom.regex_matches(expr,
        "^[a-z0-9_%+''-]+([.][a-z0-9_%+''-]+)*@[a-z0-9]([a-z0-9-]*[a-z0-9])?([.][a-z0-9]([a-z0-9-]*[a-z0-9])?)*[.][a-z]{2,}$"
    ) }}, false)
{%- endmacro %}
