{#- One row per candidate pair whose match probability (int_identity__pair_scores)
    reaches var identity_match_threshold: a link made by the probabilistic step. -#}
with

pair_scores as (
    select * from {{ ref('int_identity__pair_scores') }}
),

final as (
    select
        node_id,
        linked_node_id,
        'probabilistic' as link_rule,
        pattern_key,
        match_weight,
        match_probability
    from pair_scores
    where match_probability >= {{ var('identity_match_threshold') }}
)

select * from final
