{#- One row per person of dim_customers and rank: the var('recommendation_count')
    products to show them at the as-of date (macro recommend_products; the
    offline evaluation runs the same macro at an earlier cut-off). -#}
{{ mailroom.recommend_products(
    cutoff_at=mailroom.as_of_timestamp(),
    list_length=var('recommendation_count'),
    method='blended'
) }}
