with

clusters as (
    -- erased people are gone from every mart, and from its counts
    select * from {{ ref('int_identity__clusters') }}
    where {{ mailroom.not_erased('int_identity__clusters.person_id') }}
),

links as (
    select * from {{ ref('int_identity__links') }}
),

refused_links as (
    select * from {{ ref('int_identity__refused_links') }}
),

candidate_pairs as (
    select * from {{ ref('int_identity__candidate_pairs') }}
),

skipped_blocks as (
    select * from {{ ref('int_identity__skipped_blocks') }}
),

match_parameters as (
    select * from {{ ref('int_identity__match_parameters') }}
),

probabilistic_links as (
    select * from {{ ref('int_identity__probabilistic_links') }}
),

candidate_links as (
    select
        candidate_pairs.*,
        probabilistic_links.node_id is not null as is_linked
    from candidate_pairs
    left join probabilistic_links
        on
            candidate_pairs.node_id = probabilistic_links.node_id
            and candidate_pairs.linked_node_id = probabilistic_links.linked_node_id
),

cluster_sizes as (
    select
        person_id,
        count(*) as record_count
    from clusters
    group by 1
),

size_buckets as (
    select
        case
            when record_count <= 5 then cast(record_count as varchar)
            when record_count <= 10 then '6-10'
            when record_count <= 20 then '11-20'
            when record_count <= 50 then '21-50'
            when record_count <= 100 then '51-100'
            else '101+'
        end as item,
        min(record_count) as bucket_start,
        count(*) as persons
    from cluster_sizes
    group by 1
),

figures as (
    select
        'records' as section,
        source_table as item,
        count(*) as value,
        'Source records (nodes) of this table.' as description
    from clusters
    group by 1, 2

    union all

    select
        'persons' as section,
        'persons' as item,
        count(*) as value,
        'Distinct person_id (clusters).' as description
    from cluster_sizes

    union all

    select
        'cluster_size' as section,
        item,
        persons as value,
        'Persons with this many source records.' as description
    from size_buckets

    union all

    select
        'largest_cluster' as section,
        'records' as item,
        max(record_count) as value,
        'Source records of the largest person; the build fails above var identity_max_cluster_size.' as description
    from cluster_sizes

    union all

    select
        'links_by_rule' as section,
        link_rule as item,
        count(*) as value,
        'Accepted links made by this rule.' as description
    from links
    group by 1, 2

    union all

    select
        'refused_by_reason' as section,
        refusal_reason as item,
        sum(refused_link_count) / 2 as value,
        'Links not made because the identifier was refused (one per pair of records that carry it).' as description
    from refused_links
    group by 1, 2

    union all

    select
        'refused_identifiers' as section,
        refusal_reason as item,
        count(distinct identifier_type || ':' || identifier_value) as value,
        'Distinct identifier values refused for this reason.' as description
    from refused_links
    group by 1, 2

    union all

    select
        'probabilistic' as section,
        'candidate_pairs' as item,
        count(*) as value,
        'Record pairs compared (sharing a blocking key).' as description
    from candidate_pairs

    union all

    select
        'probabilistic' as section,
        'skipped_blocks' as item,
        count(*) as value,
        'Blocking keys over var identity_max_block_size, not compared (int_identity__skipped_blocks).' as description
    from skipped_blocks

    union all

    select
        'probabilistic' as section,
        'em_iterations' as item,
        max(em_iterations) as value,
        'Iterations EM took to estimate the m probabilities.' as description
    from match_parameters

    {%- for rule in mailroom.identity_blocking_rules() %}
        {%- set rule_number = loop.index %}
        {%- set item = rule_number ~ ': ' ~ (rule.columns | join(', ')) %}

        union all

        select
            'blocking_pairs' as section,
            '{{ item }}' as item,
            count(*) as value,
            'Candidate pairs in the blocks of this rule.' as description
        from candidate_links
        where is_in_block_{{ loop.index }}

        union all

        select
            'blocking_only' as section,
            '{{ item }}' as item,
            count(*) as value,
            'Candidate pairs this rule alone found.' as description
        from candidate_links
        where is_in_block_{{ rule_number }}{% for other in mailroom.identity_blocking_rules() %}{% if loop.index != rule_number %} and not is_in_block_{{ loop.index }}{% endif %}{% endfor %}

        union all

        select
            'blocking_links' as section,
            '{{ item }}' as item,
            count(*) as value,
            'Probabilistic links among the pairs of this rule.' as description
        from candidate_links
        where is_in_block_{{ loop.index }} and is_linked

        union all

        select
            'blocking_skipped' as section,
            '{{ item }}' as item,
            count(*) as value,
            'Blocks of this rule over its max_block_size, not compared.' as description
        from skipped_blocks
        where blocking_rule = {{ loop.index }}
    {%- endfor %}
)

select
    section,
    item,
    cast(value as bigint) as value,
    description
from figures
