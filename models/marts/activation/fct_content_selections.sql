{#- One row per person: the content an e-mail to them carries. The first rule
    of seeds/content_rules.csv (lowest priority) whose conditions all hold
    picks the content block, offer and template; the subject line and
    preheader are its templates with the person's variables filled in: first
    name, last viewed category and product (web product views up to the
    as-of date), top recommended product (fct_recommendations). A missing
    variable takes its seeds/content_fallbacks.csv text and is listed in
    fallback_variables. -#}
{%- set variables = ['first_name', 'last_viewed_category', 'last_viewed_product', 'recommended_product'] -%}
with

content_rules as (
    select * from {{ ref('content_rules') }}
),

content_fallbacks as (
    select * from {{ ref('content_fallbacks') }}
),

person_attributes as (
    select * from {{ ref('int_activation__person_attributes') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

web_events as (
    select * from {{ ref('fct_web_events') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

recommendations as (
    select * from {{ ref('fct_recommendations') }}
),

last_views as (
    select
        web_events.person_id,
        web_events.product_id,
        products.product_name,
        coalesce(products.category, web_events.product_category) as category
    from web_events
    left join products
        on web_events.product_id = products.product_id
    where
        web_events.person_id is not null
        and web_events.event_type = 'product_view'
        and web_events.attributed_at < {{ mailroom.as_of_timestamp() }}
    qualify row_number() over (
        partition by web_events.person_id
        order by web_events.event_at desc, web_events.event_id desc
    ) = 1
),

top_recommendations as (
    select
        person_id,
        max(case when recommendation_rank = 1 then product_name end) as recommended_product,
        {{ dbt.listagg("product_id", "','", "order by recommendation_rank") }} as recommended_product_ids
    from recommendations
    group by 1
),

chosen_rules as (
    select
        person_attributes.person_id,
        content_rules.rule_id,
        content_rules.content_block,
        content_rules.offer_code,
        content_rules.template_id,
        content_rules.subject_template,
        content_rules.preheader_template
    from person_attributes
    inner join content_rules
        on
            (
                content_rules.segment_id is null
                or person_attributes.segment_ids like '%|' || content_rules.segment_id || '|%'
            )
            and (
                content_rules.model_name is null
                or person_attributes.model_tiers like '%|' || content_rules.model_name || ':' || content_rules.tier || '|%'
            )
            and (
                content_rules.cluster_label is null
                or person_attributes.cluster_label = content_rules.cluster_label
            )
    qualify row_number() over (
        partition by person_attributes.person_id
        order by content_rules.priority asc
    ) = 1
),

person_variables as (
    select
        chosen_rules.*,
        customers.first_name,
        last_views.category as last_viewed_category,
        last_views.product_id as last_viewed_product_id,
        last_views.product_name as last_viewed_product,
        top_recommendations.recommended_product,
        top_recommendations.recommended_product_ids
    from chosen_rules
    inner join customers
        on chosen_rules.person_id = customers.person_id
    left join last_views
        on chosen_rules.person_id = last_views.person_id
    left join top_recommendations
        on chosen_rules.person_id = top_recommendations.person_id
),

fallbacks as (
    select
        max(case when variable = 'first_name' then fallback_value end) as first_name_fallback,
        max(case when variable = 'last_viewed_category' then fallback_value end) as last_viewed_category_fallback,
        max(case when variable = 'last_viewed_product' then fallback_value end) as last_viewed_product_fallback,
        max(case when variable = 'recommended_product' then fallback_value end) as recommended_product_fallback
    from content_fallbacks
),

final as (
    select
        -- ids
        person_variables.person_id,
        person_variables.rule_id,
        person_variables.last_viewed_product_id,

        -- strings
        person_variables.content_block,
        nullif(person_variables.offer_code, '') as offer_code,
        person_variables.template_id,
        {{ mailroom.fill_template('person_variables.subject_template', variables, 'person_variables', 'fallbacks') }}
            as subject_line,
        {{ mailroom.fill_template('person_variables.preheader_template', variables, 'person_variables', 'fallbacks') }}
            as preheader,
        person_variables.first_name,
        person_variables.last_viewed_category,
        person_variables.last_viewed_product,
        person_variables.recommended_product,
        person_variables.recommended_product_ids,
        -- the variables the chosen templates use that the person has no value for
        {{ mailroom.missing_template_variables(
            ['person_variables.subject_template', 'person_variables.preheader_template'],
            variables,
            'person_variables'
        ) }} as fallback_variables,

        -- dates
        {{ mailroom.as_of_date() }} as as_of_date
    from person_variables
    cross join fallbacks
)

select * from final
