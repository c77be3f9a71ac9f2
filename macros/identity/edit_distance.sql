{#- Levenshtein distance of two texts (insertions, deletions, substitutions);
    null when either is null. The same function on both adapters: DuckDB's
    levenshtein, Snowflake's editdistance. -#}
{% macro edit_distance(left, right) -%}
    {{ return(adapter.dispatch('edit_distance', 'mailroom')(left, right)) }}
{%- endmacro %}

{% macro default__edit_distance(left, right) -%}
    levenshtein({{ left }}, {{ right }})
{%- endmacro %}

{% macro snowflake__edit_distance(left, right) -%}
    editdistance({{ left }}, {{ right }})
{%- endmacro %}

{#- A date as its eight digits yyyymmdd, to count wrong digits. -#}
{% macro date_digits(expr) -%}
    cast(extract(year from {{ expr }}) * 10000 + extract(month from {{ expr }}) * 100 + extract(day from {{ expr }}) as varchar)
{%- endmacro %}
