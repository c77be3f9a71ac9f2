{#- One row per candidate pair with its match weight and probability: the
    weight of its comparison pattern, adjusted for the frequency of the names
    it agrees on. For an exact agreement on name v the pattern weight holds
    log2(m / u) with u the chance that two different people agree on any
    name; the adjustment log2(u / tf(v)) turns it into log2(m / tf(v)), tf(v)
    being the share of records named v (int_identity__term_frequencies). -#}
with

candidate_pairs as (
    select * from {{ ref('int_identity__candidate_pairs') }}
),

pattern_scores as (
    select * from {{ ref('int_identity__pattern_scores') }}
),

term_frequencies as (
    select * from {{ ref('int_identity__term_frequencies') }}
),

exact_name_u as (
    select
        comparison,
        max(u_probability) as u_probability
    from {{ ref('int_identity__match_parameters') }}
    where
        comparison in ('first_name', 'last_name')
        and comparison_level = 3
    group by 1
),

adjustments as (
    select
        candidate_pairs.node_id,
        candidate_pairs.linked_node_id,
        candidate_pairs.pattern_key,
        coalesce(
            ln(first_u.u_probability / first_tf.term_frequency) / ln(2), 0
        ) as first_name_adjustment,
        coalesce(
            ln(last_u.u_probability / last_tf.term_frequency) / ln(2), 0
        ) as last_name_adjustment
    from candidate_pairs
    left join term_frequencies as first_tf
        on
            first_tf.comparison = 'first_name'
            and candidate_pairs.agreed_first_name_key = first_tf.name_key
    left join exact_name_u as first_u
        on first_u.comparison = 'first_name'
    left join term_frequencies as last_tf
        on
            last_tf.comparison = 'last_name'
            and candidate_pairs.agreed_last_name_key = last_tf.name_key
    left join exact_name_u as last_u
        on last_u.comparison = 'last_name'
),

final as (
    select
        adjustments.node_id,
        adjustments.linked_node_id,
        adjustments.pattern_key,
        pattern_scores.match_weight as pattern_match_weight,
        adjustments.first_name_adjustment + adjustments.last_name_adjustment as term_frequency_adjustment,
        pattern_scores.match_weight
        + adjustments.first_name_adjustment
        + adjustments.last_name_adjustment as match_weight
    from adjustments
    inner join pattern_scores
        on adjustments.pattern_key = pattern_scores.pattern_key
)

select
    *,
    1 / (1 + power(2, -match_weight)) as match_probability
from final
