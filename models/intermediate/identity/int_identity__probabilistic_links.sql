{#- One row per candidate pair whose match probability reaches
    var identity_match_threshold: a link made by the probabilistic step. -#}
with

candidate_pairs as (
    select * from {{ ref('int_identity__candidate_pairs') }}
),

pattern_scores as (
    select * from {{ ref('int_identity__pattern_scores') }}
),

final as (
    select
        candidate_pairs.node_id,
        candidate_pairs.linked_node_id,
        'probabilistic' as link_rule,
        candidate_pairs.pattern_key,
        pattern_scores.match_weight,
        pattern_scores.match_probability
    from candidate_pairs
    inner join pattern_scores
        on candidate_pairs.pattern_key = pattern_scores.pattern_key
    where pattern_scores.match_probability >= {{ var('identity_match_threshold') }}
)

select * from final
