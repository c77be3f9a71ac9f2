{#- One row per candidate pair scored near the threshold of the probabilistic
    step (within var identity_review_band_bits of its match weight, on
    either side): what a person checks to decide whether
    var identity_match_threshold is right. Each row shows both records, every
    comparison level, the weight, whether the step linked the pair and whether
    the two records ended up as one person anyway (through other links).
    Erased people are left out. -#}
{%- set threshold = var('identity_match_threshold') -%}
{%- set threshold_weight = "(ln(" ~ threshold ~ " / (1 - " ~ threshold ~ ")) / ln(2))" -%}
with

pair_scores as (
    select * from {{ ref('int_identity__pair_scores') }}
    where abs(match_weight - {{ threshold_weight }}) <= {{ var('identity_review_band_bits') }}
),

candidate_pairs as (
    select * from {{ ref('int_identity__candidate_pairs') }}
),

records as (
    select * from {{ ref('int_identity__screened_records') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

final as (
    select
        -- ids
        pair_scores.node_id,
        pair_scores.linked_node_id,
        left_clusters.source_table,
        left_clusters.source_record_id,
        right_clusters.source_table as linked_source_table,
        right_clusters.source_record_id as linked_source_record_id,
        left_clusters.person_id,
        right_clusters.person_id as linked_person_id,

        -- the verdict
        pair_scores.match_weight,
        pair_scores.match_probability,
        pair_scores.match_weight - {{ threshold_weight }} as bits_from_threshold,
        pair_scores.match_probability >= {{ threshold }} as is_linked,
        left_clusters.person_id = right_clusters.person_id as is_same_person,
        pair_scores.pattern_match_weight,
        pair_scores.term_frequency_adjustment,
        {%- for name in mailroom.identity_comparison_names() %}
            candidate_pairs.gamma_{{ name }},
        {%- endfor %}

        -- what was compared
        left_records.first_name,
        right_records.first_name as linked_first_name,
        left_records.last_name,
        right_records.last_name as linked_last_name,
        left_records.birth_date,
        right_records.birth_date as linked_birth_date,
        left_records.street,
        right_records.street as linked_street,
        left_records.postcode,
        right_records.postcode as linked_postcode,
        left_records.city,
        right_records.city as linked_city
    from pair_scores
    inner join candidate_pairs
        on
            pair_scores.node_id = candidate_pairs.node_id
            and pair_scores.linked_node_id = candidate_pairs.linked_node_id
    inner join records as left_records
        on pair_scores.node_id = left_records.node_id
    inner join records as right_records
        on pair_scores.linked_node_id = right_records.node_id
    inner join clusters as left_clusters
        on pair_scores.node_id = left_clusters.node_id
    inner join clusters as right_clusters
        on pair_scores.linked_node_id = right_clusters.node_id
    where
        {{ mailroom.not_erased('left_clusters.person_id') }}
        and {{ mailroom.not_erased('right_clusters.person_id') }}
)

select * from final
