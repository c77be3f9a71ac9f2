{#- The de-duplication rule of staging in one place (DECISIONS.md): the rank
    of a row among the deliveries or versions of its key; rank 1 is staged,
    the rest are collapsed duplicates.
    - snapshots (`latest=true`): the newest `version_expr`, then the newest
      load, decides, even when it is bad (it is then quarantined, never
      replaced by an older clean version);
    - events (`latest=false`, `among_clean_only=true`): the first delivery,
      ranked among clean rows only, so a bad re-delivery never hides a good one.
    Nulls sort last in both directions on every warehouse. -#}
{% macro version_rank(key, version_expr=none, latest=true, among_clean_only=false) -%}
    {%- set direction = 'desc' if latest else 'asc' -%}
    row_number() over (
        partition by {{ key }}{% if among_clean_only %}, quarantine_reason is null{% endif %}
        order by
            {%- if version_expr %} {{ version_expr }} {{ direction }} nulls last,{% endif %}
            _loaded_at {{ direction }} nulls last
    )
{%- endmacro %}
