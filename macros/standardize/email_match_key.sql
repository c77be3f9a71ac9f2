{#- Key for matching mailboxes, not for sending: drops plus-tags everywhere and
    folds the dots gmail ignores (googlemail.com is gmail.com). Null when the
    normalized e-mail is invalid. -#}
{% macro email_match_key(expr) -%}
    case
        when {{ mailroom.is_valid_email(expr) }} then
            case
                when {{ dbt.split_part(expr, "'@'", 2) }} in ('gmail.com', 'googlemail.com')
                    then replace({{ dbt.split_part(dbt.split_part(expr, "'@'", 1), "'+'", 1) }}, '.', '') || '@gmail.com'
                else {{ dbt.split_part(dbt.split_part(expr, "'@'", 1), "'+'", 1) }} || '@' || {{ dbt.split_part(expr, "'@'", 2) }}
            end
    end
{%- endmacro %}
