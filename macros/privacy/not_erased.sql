{#- A predicate keeping rows whose person has not asked to be erased (rows
    without a person are kept). Every model that attaches a person to data
    filters with it, so an erased person leaves no trace downstream. -#}
{% macro not_erased(person_id_column) -%}
    not exists (
        select 1
        from {{ ref('int_privacy__erased_persons') }} as erased_persons
        where erased_persons.person_id = {{ person_id_column }}
    )
{%- endmacro %}
