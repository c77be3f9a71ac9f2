{#- True when the person is in the training feature history's sample: a hash
    bucket of the person_id (stable across runs and warehouses) below the share
    var('customer_feature_history_max_people') / persons; everyone when that
    share is at least 1 or the var is null. -#}
{% macro in_feature_history_sample(person_id) -%}
    {%- set max_people = var('customer_feature_history_max_people', none) -%}
    {%- if max_people is none -%}
        true
    {%- else -%}
        {{ mailroom.hash_bucket(person_id) }} * (select count(*) from {{ ref('int_customers__golden_records') }})
        < 10000 * {{ max_people }}
    {%- endif -%}
{%- endmacro %}
