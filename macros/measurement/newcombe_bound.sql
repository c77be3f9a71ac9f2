{#- A bound of Newcombe's hybrid score interval (his method 10) for the
    difference of two proportions p1 - p0, from each proportion and its Wilson
    bounds (wilson_bound): the difference minus (lower) or plus (upper=true)
    the root of the squared distances of each proportion to its Wilson bound
    on that side. Unlike the Wald interval it stays sensible with no
    conversions in a small control group. -#}
{% macro newcombe_bound(p1, p1_low, p1_high, p0, p0_low, p0_high, upper=false) -%}
    {%- if upper -%}
        ({{ p1 }} - {{ p0 }}) + sqrt(
            ({{ p1_high }} - {{ p1 }}) * ({{ p1_high }} - {{ p1 }})
            + ({{ p0 }} - {{ p0_low }}) * ({{ p0 }} - {{ p0_low }})
        )
    {%- else -%}
        ({{ p1 }} - {{ p0 }}) - sqrt(
            ({{ p1 }} - {{ p1_low }}) * ({{ p1 }} - {{ p1_low }})
            + ({{ p0_high }} - {{ p0 }}) * ({{ p0_high }} - {{ p0 }})
        )
    {%- endif -%}
{%- endmacro %}
