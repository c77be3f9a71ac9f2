with

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

links as (
    select * from {{ ref('int_identity__links') }}
),

link_ends as (
    select
        node_id,
        link_rule,
        match_probability
    from links

    union all

    select
        linked_node_id as node_id,
        link_rule,
        match_probability
    from links
),

strongest_links as (
    -- a record linked several ways reports the strongest: shared ids first
    select
        node_id,
        link_rule,
        match_probability
    from link_ends
    qualify row_number() over (
        partition by node_id
        order by
            case link_rule
                when 'customer_id' then 1
                when 'email' then 2
                when 'phone' then 3
                else 4
            end,
            match_probability desc
    ) = 1
),

final as (
    select
        -- ids
        clusters.source_table,
        clusters.source_record_id,
        clusters.person_id,

        -- strings
        coalesce(strongest_links.link_rule, 'unlinked') as match_rule,

        -- numbers
        cast(strongest_links.match_probability as double) as match_probability,

        -- booleans
        clusters.is_cluster_anchor
    from clusters
    left join strongest_links
        on clusters.node_id = strongest_links.node_id
)

select * from final
where {{ mailroom.not_erased('final.person_id') }}
