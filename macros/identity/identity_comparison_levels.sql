{#- The comparison levels of a pair of records aliased `left` and `right`
    (relations with the comparison keys of int_identity__comparable_records).
    Every comparison: -1 when either side is missing (no evidence either way),
    0 when the values disagree, higher levels for closer agreement; the top
    level is exact agreement. m and u are learned per level
    (int_identity__match_parameters). -#}
{% macro identity_comparison_levels(left, right) -%}
    {#- Names: exact (3), Jaro-Winkler 0.92 and over (2), 0.8 and over (1),
        else (0). First and last name given the other way round on one record
        agree at the lower of their two crosswise levels, when that is higher. -#}
    {%- for name, key, other in [('first_name', 'first_name_key', 'last_name_key'), ('last_name', 'last_name_key', 'first_name_key')] %}
    case
        when {{ left }}.{{ key }} is null or {{ right }}.{{ key }} is null then -1
        else greatest(
            {{ mailroom.identity_name_level(left ~ '.' ~ key, right ~ '.' ~ key) }},
            least(
                {{ mailroom.identity_name_level(left ~ '.' ~ key, right ~ '.' ~ other) }},
                {{ mailroom.identity_name_level(left ~ '.' ~ other, right ~ '.' ~ key) }}
            )
        )
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
    {#- Address: one comparison, not four. Street, house number, postcode and
        city of one home agree together, so as separate comparisons a shared
        home counted four times and outweighed two different first names
        (family members merged). The place agrees when the postcodes do (one
        character wrong or two neighbours swapped allowed), or, without a
        postcode on either side, the cities do; two postcodes that differ
        are two places whatever the city. Levels: 4 the same home (street,
        number and place); 3 the same street in the same place, or the same
        number and postcode; 2 the same place; 1 the same street and number
        in another place, or the same city under another postcode (common
        street names repeat from town to town); 0 else; -1 when neither
        street, number, postcode nor city can be compared. Street names and
        cities agree from Jaro-Winkler 0.88 (the keys drop spaces, so words
        run together compare equal). -#}
    {%- set street = "coalesce(" ~ mailroom.string_similarity(left ~ '.street_name_key', right ~ '.street_name_key') ~ " >= 0.88, false)" %}
    {%- set number = "coalesce(" ~ left ~ ".street_number = " ~ right ~ ".street_number, false)" %}
    {%- set postcode_exact = "coalesce(" ~ left ~ ".postcode_key = " ~ right ~ ".postcode_key, false)" %}
    {%- set postcode = "coalesce(" ~ mailroom.edit_distance(left ~ '.postcode_key', right ~ '.postcode_key') ~ " <= 1 or "
        ~ mailroom.string_similarity(left ~ '.postcode_key', right ~ '.postcode_key') ~ " >= 0.9, false)" %}
    {%- set no_postcode = "(" ~ left ~ ".postcode_key is null or " ~ right ~ ".postcode_key is null)" %}
    {%- set city = "coalesce(" ~ mailroom.string_similarity(left ~ '.city_key', right ~ '.city_key') ~ " >= 0.88, false)" %}
    {%- set place = "(" ~ postcode ~ " or (" ~ no_postcode ~ " and " ~ city ~ "))" %}
    case
        when
            ({{ left }}.street_name_key is null or {{ right }}.street_name_key is null)
            and ({{ left }}.street_number is null or {{ right }}.street_number is null)
            and {{ no_postcode }}
            and ({{ left }}.city_key is null or {{ right }}.city_key is null)
            then -1
        when {{ street }} and {{ number }} and {{ place }} then 4
        when ({{ street }} and {{ place }}) or ({{ number }} and {{ postcode_exact }}) then 3
        when {{ place }} then 2
        when ({{ street }} and {{ number }}) or {{ city }} then 1
        else 0
    end as gamma_address,
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


{#- The agreement level of two name keys: 3 equal, 2 Jaro-Winkler 0.92 and
    over, 1 0.8 and over, 0 else or either missing. -#}
{% macro identity_name_level(left, right) -%}
    case
        when {{ left }} = {{ right }} then 3
        when {{ mailroom.string_similarity(left, right) }} >= 0.92 then 2
        when {{ mailroom.string_similarity(left, right) }} >= 0.8 then 1
        else 0
    end
{%- endmacro %}
