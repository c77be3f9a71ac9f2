{#- Phone number to E.164 (`+447700900123`). `calling_code` is an expression
    giving the country calling code (without +) for numbers written in national
    form. Returns null when nothing plausible (7 to 15 digits) remains. -#}
{% macro normalize_phone(expr, calling_code) -%}
    {%- set cleaned = "replace(trim(" ~ expr ~ "), '(0)', '')" -%}
    {%- set digits = mailroom.regex_replace_all(cleaned, '[^0-9]', '') -%}
    case
        when length({{ digits }}) between 7 and 15 then
            case
                when {{ cleaned }} like '+%' then '+' || {{ digits }}
                when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
                when {{ calling_code }} = '1' and length({{ digits }}) = 11 and {{ digits }} like '1%'
                    then '+' || {{ digits }}
                when {{ digits }} like '0%' then '+' || {{ calling_code }} || substr({{ digits }}, 2)
                else '+' || {{ calling_code }} || {{ digits }}
            end
    end
{%- endmacro %}
