{#- One row per blocking key shared by more records than
    var identity_max_block_size: its pairs were not compared. -#}
{%- set rules = var('identity_blocking_rules') -%}
with

comparable_records as (
    select * from {{ ref('int_identity__comparable_records') }}
),

final as (
    {%- for rule in rules %}
        select
            {{ loop.index }} as blocking_rule,
            '{{ rule | join(", ") }}' as blocking_columns,
            {{ rule | join(" || '|' || ") }} as block_key,
            count(*) as record_count
        from comparable_records
        where {% for column in rule %}{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
        group by 1, 2, 3
        having count(*) > {{ var('identity_max_block_size') }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from final
