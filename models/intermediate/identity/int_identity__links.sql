{#- One row per accepted link between two records: shared usable identifiers
    (probability 1) and probabilistic matches over the threshold. -#}
with

deterministic_links as (
    select * from {{ ref('int_identity__deterministic_links') }}
),

probabilistic_links as (
    select * from {{ ref('int_identity__probabilistic_links') }}
),

final as (
    select
        node_id,
        linked_node_id,
        link_rule,
        match_probability
    from deterministic_links

    union all

    select
        node_id,
        linked_node_id,
        link_rule,
        match_probability
    from probabilistic_links
)

select * from final
