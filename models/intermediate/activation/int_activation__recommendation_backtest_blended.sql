{#- The blended recommender run at the evaluation split (macro
    recommendation_split_at): the same code as fct_recommendations, knowing
    only what was known before the split, with lists as long as the longest
    evaluated k. -#}
{{ mailroom.recommend_products(
    cutoff_at=mailroom.recommendation_split_at(),
    list_length=mailroom.recommendation_eval_ks() | max,
    method='blended'
) }}
