{#- raw rows = staged rows + quarantined rows + collapsed duplicates, per raw table.
    Raw rows are counted from the sources themselves (stg_raw__row_counts), the
    others from the staging, quarantine and base models, so a row lost or
    multiplied anywhere in staging breaks the balance (and the build, see the test). -#}
{%- set tables = mailroom.raw_tables() -%}
{%- set quarantines = [] -%}
{%- for source_name, _, _ in tables if source_name not in quarantines %}{% do quarantines.append(source_name) %}{% endfor -%}

with

{% for source_name, table, suffix in tables -%}
    base_{{ suffix }} as (
        select * from {{ ref('base_' ~ suffix) }}
    ),

    stg_{{ suffix }} as (
        select * from {{ ref('stg_' ~ suffix) }}
    ),

{% endfor -%}
{% for q in quarantines -%}
    stg_{{ q }}__quarantined_rows as (
        select * from {{ ref('stg_' ~ q ~ '__quarantined_rows') }}
    ),

{% endfor -%}
stg_raw__row_counts as (
    select * from {{ ref('stg_raw__row_counts') }}
),

quarantined as (
    {% for q in quarantines -%}
        select
            source_table,
            count(*) as quarantined_rows
        from stg_{{ q }}__quarantined_rows
        group by 1
        {% if not loop.last %}union all
        {% endif %}
    {%- endfor %}
),

counted as (
    {% for source_name, table, suffix in tables -%}
        select
            '{{ source_name }}' as source_name,
            '{{ table }}' as source_table,
            (
                select max(stg_raw__row_counts.raw_rows) from stg_raw__row_counts
                where stg_raw__row_counts.source_table = '{{ table }}'
            ) as raw_rows,
            (select count(*) from stg_{{ suffix }}) as staged_rows,
            (
                select count(*) from base_{{ suffix }}
                where quarantine_reason is null and version_rank > 1
            ) as collapsed_duplicates
        {% if not loop.last %}union all
        {% endif %}
    {%- endfor %}
),

final as (
    select
        counted.source_name,
        counted.source_table,
        counted.raw_rows,
        counted.staged_rows,
        coalesce(quarantined.quarantined_rows, 0) as quarantined_rows,
        counted.collapsed_duplicates,
        counted.raw_rows
        = counted.staged_rows + coalesce(quarantined.quarantined_rows, 0) + counted.collapsed_duplicates
            as is_balanced
    from counted
    left join quarantined
        on counted.source_table = quarantined.source_table
)

select * from final
