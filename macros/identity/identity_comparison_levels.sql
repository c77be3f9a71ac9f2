{#- The comparison levels of a pair of records aliased `left` and `right`
    (relations with the comparison keys of int_identity__comparable_records).
    Every comparison: -1 when either side is missing (no evidence either way),
    0 when the values disagree, higher levels for closer agreement; the top
    level is exact agreement. m and u are learned per level
    (int_identity__match_parameters). -#}
{% macro identity_comparison_levels(left, right) -%}
    {#- Names: exact, Jaro-Winkler at two thresholds, else. A record with first
        and last name the other way round agrees exactly on both. -#}
    {%- for name, key, other in [('first_name', 'first_name_key', 'last_name_key'), ('last_name', 'last_name_key', 'first_name_key')] %}
    case
        when {{ left }}.{{ key }} is null or {{ right }}.{{ key }} is null then -1
        when {{ left }}.{{ key }} = {{ right }}.{{ key }} then 3
        when {{ left }}.{{ key }} = {{ right }}.{{ other }} and {{ left }}.{{ other }} = {{ right }}.{{ key }} then 3
        when {{ mailroom.string_similarity(left ~ '.' ~ key, right ~ '.' ~ key) }} >= 0.92 then 2
        when {{ mailroom.string_similarity(left ~ '.' ~ key, right ~ '.' ~ key) }} >= 0.8 then 1
        else 0
    end as gamma_{{ name }},
    {%- endfor %}
    {#- Birth date: exact; one digit wrong or day and month swapped; two of
        year, month and day agree; else. -#}
    case
        when {{ left }}.birth_date is null or {{ right }}.birth_date is null then -1
        when {{ left }}.birth_date = {{ right }}.birth_date then 3
        when
            {{ mailroom.edit_distance(mailroom.date_digits(left ~ '.birth_date'), mailroom.date_digits(right ~ '.birth_date')) }} <= 1
            or (
                extract(year from {{ left }}.birth_date) = extract(year from {{ right }}.birth_date)
                and extract(month from {{ left }}.birth_date) = extract(day from {{ right }}.birth_date)
                and extract(day from {{ left }}.birth_date) = extract(month from {{ right }}.birth_date)
            )
            then 2
        when
            case when extract(year from {{ left }}.birth_date) = extract(year from {{ right }}.birth_date) then 1 else 0 end
            + case when extract(month from {{ left }}.birth_date) = extract(month from {{ right }}.birth_date) then 1 else 0 end
            + case when extract(day from {{ left }}.birth_date) = extract(day from {{ right }}.birth_date) then 1 else 0 end
            >= 2 then 1
        else 0
    end as gamma_birth_date,
    {#- Street name (the street without its number; words run together
        compare equal, the key drops spaces): as names. -#}
    case
        when {{ left }}.street_name_key is null or {{ right }}.street_name_key is null then -1
        when {{ left }}.street_name_key = {{ right }}.street_name_key then 3
        when {{ mailroom.string_similarity(left ~ '.street_name_key', right ~ '.street_name_key') }} >= 0.92 then 2
        when {{ mailroom.string_similarity(left ~ '.street_name_key', right ~ '.street_name_key') }} >= 0.8 then 1
        else 0
    end as gamma_street,
    case
        when {{ left }}.street_number is null or {{ right }}.street_number is null then -1
        when {{ left }}.street_number = {{ right }}.street_number then 1
        else 0
    end as gamma_street_number,
    case
        when {{ left }}.city_key is null or {{ right }}.city_key is null then -1
        when {{ left }}.city_key = {{ right }}.city_key then 2
        when {{ mailroom.string_similarity(left ~ '.city_key', right ~ '.city_key') }} >= 0.9 then 1
        else 0
    end as gamma_city,
    {#- Postcode: exact; one character wrong or two neighbours swapped
        (Jaro-Winkler 0.9 and over); else. -#}
    case
        when {{ left }}.postcode_key is null or {{ right }}.postcode_key is null then -1
        when {{ left }}.postcode_key = {{ right }}.postcode_key then 2
        when
            {{ mailroom.edit_distance(left ~ '.postcode_key', right ~ '.postcode_key') }} <= 1
            or {{ mailroom.string_similarity(left ~ '.postcode_key', right ~ '.postcode_key') }} >= 0.9
            then 1
        else 0
    end as gamma_postcode,
    -- exact only: local parts are made of names, so a fuzzy agreement
    -- repeats the name comparisons instead of adding evidence
    case
        when {{ left }}.email_local_key is null or {{ right }}.email_local_key is null then -1
        when {{ left }}.email_local_key = {{ right }}.email_local_key then 1
        else 0
    end as gamma_email_local,
    case
        when {{ left }}.phone_suffix is null or {{ right }}.phone_suffix is null then -1
        when {{ left }}.phone_suffix = {{ right }}.phone_suffix then 1
        else 0
    end as gamma_phone
{%- endmacro %}
