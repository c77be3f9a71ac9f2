{#- The feature a segment rule reads: its metric, suffixed with the window for
    windowed metrics (orders over 30 days is orders_30d). window_days is text
    in the seed: empty in a unit test's rows, null once loaded. -#}
{% macro segment_rule_feature(metric, window_days) -%}
    {%- set window = "nullif(trim(cast(" ~ window_days ~ " as " ~ dbt.type_string() ~ ")), '')" -%}
    {{ metric }} || case
        when {{ window }} is null then ''
        else '_' || cast(cast({{ window }} as integer) as {{ dbt.type_string() }}) || 'd'
    end
{%- endmacro %}
