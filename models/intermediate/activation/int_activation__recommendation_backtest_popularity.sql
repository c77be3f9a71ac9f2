{#- The popularity baseline at the evaluation split: recent best sellers only,
    with the same candidates and exclusions as the blended recommender. -#}
{{ mailroom.recommend_products(
    cutoff_at=mailroom.recommendation_split_at(),
    list_length=mailroom.recommendation_eval_ks() | max,
    method='popularity'
) }}
