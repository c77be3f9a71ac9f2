{#- Text timestamp to a UTC timestamp without zone. ISO-8601 with `Z` or an
    offset is converted from that offset; text without one is read in
    `source_timezone` (an IANA name, default UTC). Anything that is not shaped
    like `YYYY-MM-DD[ T]HH:MM[:SS]` or a date gives null (so 'epoch' or
    'now' never sneak in). -#}
{% macro to_utc(expr, source_timezone='UTC') -%}
    {{ return(adapter.dispatch('to_utc', 'mailroom')(expr, source_timezone)) }}
{%- endmacro %}

{#- Text with an offset written as Z, +HH, +HHMM or +HH:MM, rewritten with +HH:MM
    (both engines then read it the same way); text without an offset unchanged. -#}
{% macro iso_offset_text(v) -%}
    {%- set clock = "[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?" -%}
    case
        when {{ mailroom.regex_matches(v, ".*" ~ clock ~ "[zZ]") }} then substr({{ v }}, 1, length({{ v }}) - 1) || '+00:00'
        when {{ mailroom.regex_matches(v, ".*" ~ clock ~ "[+-][0-9]{2}") }} then {{ v }} || ':00'
        when {{ mailroom.regex_matches(v, ".*" ~ clock ~ "[+-][0-9]{4}") }}
            then substr({{ v }}, 1, length({{ v }}) - 2) || ':' || substr({{ v }}, length({{ v }}) - 1)
        else {{ v }}
    end
{%- endmacro %}

{#- True when the text carries a UTC offset after its clock time. -#}
{% macro has_utc_offset(v) -%}
    {{ mailroom.regex_matches(v, ".*[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)") }}
{%- endmacro %}

{% macro default__to_utc(expr, source_timezone) -%}
    {#- try_cast to timestamp_tz (not try_to_timestamp_tz) with an explicit
        offset: the same text is read the same way whatever the session's
        TIMESTAMP_INPUT_FORMAT, and the fakesnow emulator runs it too. -#}
    {%- set v = "trim(" ~ expr ~ ")" -%}
    case
        when not {{ mailroom.regex_matches(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)?') }}
            then null
        when {{ mailroom.has_utc_offset(v) }}
            then convert_timezone('UTC', try_cast({{ mailroom.iso_offset_text(v) }} as timestamp_tz))::timestamp_ntz
        {%- if source_timezone == 'UTC' %}
        else convert_timezone('UTC', try_cast(
            case when length({{ v }}) = 10 then {{ v }} || ' 00:00:00' else {{ v }} end || '+00:00' as timestamp_tz
        ))::timestamp_ntz
        {%- else %}
        else convert_timezone('{{ source_timezone }}', 'UTC', try_cast({{ v }} as timestamp_ntz))
        {%- endif %}
    end
{%- endmacro %}

{% macro duckdb__to_utc(expr, source_timezone) -%}
    {%- set v = "trim(" ~ expr ~ ")" -%}
    case
        when not {{ mailroom.regex_matches(v, '[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)?') }}
            then null
        when {{ mailroom.has_utc_offset(v) }}
            then timezone('UTC', try_cast({{ mailroom.iso_offset_text(v) }} as timestamptz))
        {%- if source_timezone == 'UTC' %}
        else try_cast({{ v }} as timestamp)
        {%- else %}
        else timezone('UTC', timezone('{{ source_timezone }}', try_cast({{ v }} as timestamp)))
        {%- endif %}
    end
{%- endmacro %}
