{#- Amount in `currency_expr` converted to var('reporting_currency') through
    the `fx_rates` seed (units of each currency per 1 EUR). Null when either
    currency is unknown. -#}
{% macro to_reporting_currency(amount_expr, currency_expr) -%}
    cast(
        {{ amount_expr }}
        / (select max(fx_rates.units_per_eur) from {{ ref('fx_rates') }} as fx_rates
            where fx_rates.currency_code = upper(trim({{ currency_expr }})))
        * (select max(fx_rates.units_per_eur) from {{ ref('fx_rates') }} as fx_rates
            where fx_rates.currency_code = '{{ var("reporting_currency") }}')
        as decimal(18, 2)
    )
{%- endmacro %}
