{#- A bucket in [0, buckets) from the MD5 of a text: the same text gets the same
    bucket on every run and every warehouse (the first 32 bits of the MD5 as a
    number), so hash-based groups such as holdouts are stable and portable. -#}
{% macro hash_bucket(expr, buckets=10000) -%}
    {{ return(adapter.dispatch('hash_bucket', 'mailroom')(expr, buckets)) }}
{%- endmacro %}

{#- Hex digit by hex digit, with functions every warehouse has (Snowflake's
    to_number(x, 'XXXXXXXX') would do, but its emulation cannot run it). -#}
{% macro default__hash_bucket(expr, buckets) -%}
    mod(
        {%- for i in range(8) %}
        (charindex(substr(md5({{ expr }}), {{ i + 1 }}, 1), '0123456789abcdef') - 1) * {{ 16 ** (7 - i) }}
        {%- if not loop.last %} +{% endif %}
        {%- endfor %},
        {{ buckets }}
    )
{%- endmacro %}

{% macro duckdb__hash_bucket(expr, buckets) -%}
    (cast(('0x' || substr(md5({{ expr }}), 1, 8)) as bigint) % {{ buckets }})
{%- endmacro %}
