{#- The comparison levels of a pair of records aliased `left` and `right`
    (relations with the key columns of int_identity__records). -#}
{% macro identity_comparison_levels(left, right) -%}
    {%- set fuzzy = {'first_name_key': 0.9, 'last_name_key': 0.9, 'street_key': 0.88} -%}
    {%- for name, key in [('first_name', 'first_name_key'), ('last_name', 'last_name_key'), ('street', 'street_key')] %}
    case
        when {{ left }}.{{ key }} is null or {{ right }}.{{ key }} is null then -1
        when {{ left }}.{{ key }} = {{ right }}.{{ key }} then 2
        when {{ mailroom.string_similarity(left ~ '.' ~ key, right ~ '.' ~ key) }} >= {{ fuzzy[key] }} then 1
        else 0
    end as gamma_{{ name }},
    {%- endfor %}
    case
        when {{ left }}.birth_date is null or {{ right }}.birth_date is null then -1
        when {{ left }}.birth_date = {{ right }}.birth_date then 2
        -- two of year, month and day agree: a typo or a day/month swap
        when
            case when extract(year from {{ left }}.birth_date) = extract(year from {{ right }}.birth_date) then 1 else 0 end
            + case when extract(month from {{ left }}.birth_date) = extract(month from {{ right }}.birth_date) then 1 else 0 end
            + case when extract(day from {{ left }}.birth_date) = extract(day from {{ right }}.birth_date) then 1 else 0 end
            >= 2 then 1
        else 0
    end as gamma_birth_date,
    -- exact only: local parts are made of names, so a fuzzy agreement
    -- repeats the name comparisons instead of adding evidence
    case
        when {{ left }}.email_local_key is null or {{ right }}.email_local_key is null then -1
        when {{ left }}.email_local_key = {{ right }}.email_local_key then 1
        else 0
    end as gamma_email_local,
    case
        when {{ left }}.postcode_key is null or {{ right }}.postcode_key is null then -1
        when {{ left }}.postcode_key = {{ right }}.postcode_key then 1
        else 0
    end as gamma_postcode,
    case
        when {{ left }}.phone_suffix is null or {{ right }}.phone_suffix is null then -1
        when {{ left }}.phone_suffix = {{ right }}.phone_suffix then 1
        else 0
    end as gamma_phone
{%- endmacro %}
