{{ mailroom.customer_features('true') }}
