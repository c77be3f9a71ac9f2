{#- One row per pair of records that share a blocking key
    (var identity_blocking_rules), with the blocks it is in and its
    comparison levels. Blocks larger
    than their rule's max_block_size (macro identity_blocking_rules) are skipped (see
    int_identity__skipped_blocks): their pairs grow as n^2 and a key shared
    by that many records says little. -#}
{%- set rules = mailroom.identity_blocking_rules() -%}
with

comparable_records as (
    select * from {{ ref('int_identity__comparable_records') }}
),
{%- for rule in rules %}

    block_members_{{ loop.index }} as (
        select
            node_id,
            {{ rule.columns | join(" || '|' || ") }} as block_key
        from comparable_records
        where {% for column in rule.columns %}{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %}
    ),

    blocks_{{ loop.index }} as (
        select block_key
        from block_members_{{ loop.index }}
        group by 1
        having count(*) between 2 and {{ rule.max_block_size }}
    ),

    pairs_{{ loop.index }} as (
        select
            left_members.node_id,
            right_members.node_id as linked_node_id,
            {{ loop.index }} as blocking_rule
        from block_members_{{ loop.index }} as left_members
        inner join blocks_{{ loop.index }}
            on left_members.block_key = blocks_{{ loop.index }}.block_key
        inner join block_members_{{ loop.index }} as right_members
            on
                left_members.block_key = right_members.block_key
                and left_members.node_id < right_members.node_id
    ),
{%- endfor %}

pairs as (
    select
        node_id,
        linked_node_id,
        {%- for rule in rules %}
            max(case when blocking_rule = {{ loop.index }} then 1 else 0 end) = 1 as is_in_block_{{ loop.index }},
        {%- endfor %}
        min(blocking_rule) as blocking_rule
    from (
        {%- for rule in rules %}
            select * from pairs_{{ loop.index }}
            {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as all_pairs
    group by 1, 2
),

final as (
    select
        pairs.node_id,
        pairs.linked_node_id,
        pairs.blocking_rule,
        {%- for rule in rules %}
            pairs.is_in_block_{{ loop.index }},
        {%- endfor %}
        -- the name both records carry, where they agree exactly (term frequencies)
        case
            when left_records.first_name_key = right_records.first_name_key then left_records.first_name_key
        end as agreed_first_name_key,
        case
            when left_records.last_name_key = right_records.last_name_key then left_records.last_name_key
        end as agreed_last_name_key,
        {{ mailroom.identity_comparison_levels('left_records', 'right_records') }}
    from pairs
    inner join comparable_records as left_records
        on pairs.node_id = left_records.node_id
    inner join comparable_records as right_records
        on pairs.linked_node_id = right_records.node_id
)

select
    *,
    {{ mailroom.identity_pattern_key() }} as pattern_key
from final
