{#- Generic test: every person of `people` has exactly `list_length` rows in
    the model (column_name is the person key), or as many as there are
    products ever ordered when the catalogue in use is smaller (a new shop).
    Fails with one row per person whose list is short, long or missing. -#}
{% test recommendation_lists_are_full(model, column_name, people, list_length) %}

with

listed as (
    select
        {{ column_name }} as person_id,
        count(*) as list_rows
    from {{ model }}
    group by 1
),

catalogue as (
    select count(distinct product_id) as ordered_products
    from {{ ref('fct_order_items') }}
)

select
    people.person_id,
    coalesce(listed.list_rows, 0) as list_rows
from {{ people }} as people
cross join catalogue
left join listed
    on people.person_id = listed.person_id
where
    coalesce(listed.list_rows, 0) > {{ list_length }}
    or (
        coalesce(listed.list_rows, 0) < {{ list_length }}
        and catalogue.ordered_products >= 2 * {{ list_length }}
    )

{% endtest %}
