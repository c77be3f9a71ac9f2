{#- The current time in UTC as a timestamp without zone, whatever the session's time zone. -#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now', 'mailroom')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    convert_timezone('UTC', current_timestamp())::timestamp_ntz
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    timezone('UTC', current_timestamp)
{%- endmacro %}
