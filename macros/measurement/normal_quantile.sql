{#- The standard normal quantile: z such that P(Z <= z) = probability, as a
    number at compile time (no warehouse has an inverse normal function, so
    the z of a confidence level goes into the SQL as a literal). Bisection on
    the normal CDF, which is summed from its Taylor series: exact to about
    1e-10 for the probabilities confidence levels need (0.75 to 0.9999995). -#}
{% macro normal_quantile(probability) -%}
    {%- set p = probability | float -%}
    {%- if p < 0.75 or p > 0.9999995 -%}
        {{ exceptions.raise_compiler_error(
            "normal_quantile: probability " ~ probability ~ " is outside [0.75, 0.9999995]"
        ) }}
    {%- endif -%}
    {%- set bounds = namespace(low=0.0, high=6.0) -%}
    {%- for _ in range(60) -%}
        {%- set x = (bounds.low + bounds.high) / 2 -%}
        {#- Phi(x) = 1/2 + (1/sqrt(2 pi)) sum_n (-1)^n x^(2n+1) / (2^n n! (2n+1)) -#}
        {%- set series = namespace(term=x, total=x) -%}
        {%- for n in range(1, 160) -%}
            {%- set series.term = series.term * (-x * x / 2) / n -%}
            {%- set series.total = series.total + series.term / (2 * n + 1) -%}
        {%- endfor -%}
        {%- if 0.5 + series.total / 2.5066282746310002 < p -%}
            {%- set bounds.low = x -%}
        {%- else -%}
            {%- set bounds.high = x -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return((bounds.low + bounds.high) / 2) }}
{%- endmacro %}
