{#- One row per numeric point-in-time feature (mailroom.customer_feature_names()):
    the names segment rules and models can use, and each one in words
    (mailroom.customer_feature_label()) for score reasons. -#}
with

features as (
    {% for feature in mailroom.customer_feature_names() -%}
        select
            '{{ feature }}' as feature_name,
            '{{ mailroom.customer_feature_label(feature) }}' as feature_label,
            {{ loop.index }} as feature_number
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        -- ids
        feature_name,

        -- strings
        feature_label,

        -- numbers
        feature_number
    from features
)

select * from final
