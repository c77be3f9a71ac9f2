{#- Label propagation converged: no accepted link joins two clusters. Raise
    var identity_propagation_steps when this fails. -#}
with

links as (
    select * from {{ ref('int_identity__links') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

final as (
    select
        links.node_id,
        links.linked_node_id,
        left_clusters.cluster_label,
        right_clusters.cluster_label as linked_cluster_label
    from links
    inner join clusters as left_clusters
        on links.node_id = left_clusters.node_id
    inner join clusters as right_clusters
        on links.linked_node_id = right_clusters.node_id
    where left_clusters.cluster_label != right_clusters.cluster_label
)

select * from final
