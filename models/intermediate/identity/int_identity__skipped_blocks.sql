{#- One row per blocking key shared by more records than its rule's
    max_block_size (macro identity_blocking_rules): its pairs were not compared. -#}
{%- set rules = mailroom.identity_blocking_rules() -%}
with

comparable_records as (
    select * from {{ ref('int_identity__comparable_records') }}
),

final as (
    {%- for rule in rules %}
        select
            {{ loop.index }} as blocking_rule,
            '{{ rule.columns | join(", ") }}' as blocking_columns,
            {{ rule.columns | join(" || '|' || ") }} as block_key,
            count(*) as record_count
        from comparable_records
        where {% for column in rule.columns %}{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
        group by 1, 2, 3
        having count(*) > {{ rule.max_block_size }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from final
