{#- A post-hook statement deleting erased people from a table that keeps
    history across builds (snapshots, incremental history): what a rebuild
    cannot forget must be deleted, under every person_id they may have had
    (int_privacy__erased_person_ids). -#}
{% macro purge_erased(relation, person_id_column='person_id') -%}
    delete from {{ relation }}
    where {{ person_id_column }} in (
        select erased_person_ids.person_id
        from {{ ref('int_privacy__erased_person_ids') }} as erased_person_ids
    )
{%- endmacro %}
