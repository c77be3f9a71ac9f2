{#- Key for comparing names and addresses, not for display: lower case,
    accents folded (é -> e, ß -> s), everything but letters and digits
    removed. Null when nothing is left. -#}
{% macro name_match_key(expr) -%}
    nullif(
        {{ mailroom.regex_replace_all(
            "translate(lower(" ~ expr ~ "), 'àáâäãåāçčćèéêëēėęìíîïīłñńòóôöõøōœšśßùúûüūýÿžźż', 'aaaaaaaccceeeeeeeiiiiilnnoooooooosssuuuuuyyzzz')",
            '[^a-z0-9]', ''
        ) }},
        ''
    )
{%- endmacro %}
