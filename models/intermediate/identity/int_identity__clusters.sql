{#- One row per record with its cluster (connected component of the
    accepted links) and person_id. A cluster is named after its smallest node
    label (source priority, then source and record id), and person_id is a
    hash of that name: the same input gives the same ids, and a record that
    joins no existing cluster changes none of them (as long as the re-learnt
    match weights move no pair across the threshold). -#}
with

records as (
    select * from {{ ref('int_identity__records') }}
),

{{ mailroom.label_propagation(
    nodes='records',
    graph=ref('int_identity__link_graph'),
    iterations=var('identity_propagation_steps'),
) }},

final as (
    select
        records.node_id,
        records.source_table,
        records.source_record_id,
        propagated_labels.component_label as cluster_label,
        {{ dbt.hash('propagated_labels.component_label') }} as person_id,
        propagated_labels.component_label = records.node_label as is_cluster_anchor
    from records
    inner join propagated_labels
        on records.node_id = propagated_labels.node_id
)

select * from final
