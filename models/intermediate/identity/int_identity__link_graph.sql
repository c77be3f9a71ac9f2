{#- The identity graph as label propagation reads it: one row per directed
    edge, both directions of every accepted link and a self-loop per record. -#}
with

records as (
    select * from {{ ref('int_identity__records') }}
),

links as (
    select * from {{ ref('int_identity__links') }}
),

final as (
    select
        node_id,
        linked_node_id
    from links

    union

    select
        linked_node_id as node_id,
        node_id as linked_node_id
    from links

    union

    select
        node_id,
        node_id as linked_node_id
    from records
)

select * from final
