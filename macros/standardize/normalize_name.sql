{#- Person name: trimmed, inner spaces collapsed, accents kept. Names typed all
    upper or all lower case are re-cased (capital after space, hyphen or
    apostrophe); mixed case is kept as typed (McDonald, van der Meer). -#}
{% macro normalize_name(expr) -%}
    {%- set squeezed = mailroom.regex_replace_all("trim(" ~ expr ~ ")", '[[:space:]]+', ' ') -%}
    case
        when nullif(trim({{ expr }}), '') is null then null
        when {{ squeezed }} = upper({{ squeezed }}) or {{ squeezed }} = lower({{ squeezed }})
            then {{ mailroom.initcap(squeezed) }}
        else {{ squeezed }}
    end
{%- endmacro %}
