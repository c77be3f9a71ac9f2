{#- The standard checks of one text timestamp column: missing (when required),
    unparseable, later than the as-of time plus the tolerance. `raw` is the text
    column, `parsed` the to_utc() result. -#}
{% macro timestamp_checks(raw, parsed, required=true) -%}
    {%- set checks = [] -%}
    {%- if required -%}
        {%- do checks.append(["nullif(trim(" ~ raw ~ "), '') is null", "missing_timestamp", raw | replace("raw_", "")]) -%}
    {%- endif -%}
    {%- do checks.append(["nullif(trim(" ~ raw ~ "), '') is not null and " ~ parsed ~ " is null", "unparseable_timestamp", raw | replace("raw_", "")]) -%}
    {%- do checks.append([parsed ~ " > " ~ mailroom.future_limit(), "future_timestamp", raw | replace("raw_", "")]) -%}
    {{ return(checks) }}
{%- endmacro %}
