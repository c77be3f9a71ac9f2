{#- Connected components by minimum-label propagation, as plain CTEs that
    run on any warehouse (no recursion, no procedural loop).

    `nodes` is a relation with `node_id` and `node_label` (the label a node
    starts with; the smallest label of a component wins). `graph` has
    `node_id` and `linked_node_id` with both directions of every link and a
    self-loop per node, materialized once because every step reads it. Each step
    gives every node the smallest label among itself and its neighbours, and
    reads the previous step once, so the plan grows linearly. After
    `iterations` steps every component whose diameter is at most that many
    links carries one label; the convergence test on the clusters model
    fails the build otherwise. Yields CTEs ending in `propagated_labels`
    (node_id, component_label). -#}
{% macro label_propagation(nodes, graph, iterations) -%}
    labels_0 as (
        select
            node_id,
            node_label
        from {{ nodes }}
    ),
    {%- for step in range(1, iterations + 1) %}

    labels_{{ step }} as (
        select
            graph_edges.node_id,
            min(labels_{{ step - 1 }}.node_label) as node_label
        from {{ graph }} as graph_edges
        inner join labels_{{ step - 1 }}
            on graph_edges.linked_node_id = labels_{{ step - 1 }}.node_id
        group by 1
    ),
    {%- endfor %}

    propagated_labels as (
        select
            node_id,
            node_label as component_label
        from labels_{{ iterations }}
    )
{%- endmacro %}
