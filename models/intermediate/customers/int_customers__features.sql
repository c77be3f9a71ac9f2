{{ mailroom.customer_features('is_scoring_date') }}
