{#- Whether a row arrived as history (a backfill of the past) rather than live:
    it came in its table's first load, or at or before var('history_loaded_until').
    A history row is known at its own event time; a live row when it was loaded.
    `first_loaded_at` is the table's earliest _loaded_at. -#}
{% macro is_history_load(loaded_at, first_loaded_at) -%}
    {%- set until = var('history_loaded_until', none) -%}
    coalesce(
        {{ loaded_at }} <= {{ first_loaded_at }}
        {%- if until %}
        or {{ loaded_at }} <= cast('{{ until }}' as timestamp)
        {%- endif %},
        false
    )
{%- endmacro %}
