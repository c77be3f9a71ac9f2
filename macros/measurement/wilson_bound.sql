{#- A bound of the Wilson score interval of a proportion successes / trials at
    the given z (a SQL literal): the lower bound, or the upper with upper=true.
    Null when trials is 0. Only arithmetic and sqrt: the same on every warehouse. -#}
{% macro wilson_bound(successes, trials, z, upper=false) -%}
    {%- set n = "nullif(cast(" ~ trials ~ " as double), 0)" -%}
    {%- set p = "(cast(" ~ successes ~ " as double) / " ~ n ~ ")" -%}
    (
        ({{ p }} + {{ z }} * {{ z }} / (2 * {{ n }}))
        {{ "+" if upper else "-" }} {{ z }} * sqrt(
            {{ p }} * (1 - {{ p }}) / {{ n }} + {{ z }} * {{ z }} / (4 * {{ n }} * {{ n }})
        )
    ) / (1 + {{ z }} * {{ z }} / {{ n }})
{%- endmacro %}
