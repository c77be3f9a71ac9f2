{#- The training history: every feature date, for the history's person sample
    (macro in_feature_history_sample; everyone below var('customer_feature_history_max_people')). -#}
{{ mailroom.customer_features('true', mailroom.in_feature_history_sample('person_id')) }}
