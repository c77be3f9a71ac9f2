{#- One row (fallback_id 'unknown_profile'): what the profile API serves for
    a key it does not know (never seen, or erased), so that a send-time
    template never breaks. The content is the first rule of
    seeds/content_rules.csv by priority without conditions (an unknown person
    matches no segment, tier or cluster), its subject line and preheader
    filled with every variable's seeds/content_fallbacks.csv text. The send
    hour is the one fct_send_preferences gives people without opens (the
    population's best); when every person has opens, the most common best
    hour; without any person, var('send_time_default_hour_utc'). The
    recommendations are fct_popular_products. -#}
{%- set variables = ['first_name', 'last_viewed_category', 'last_viewed_product', 'recommended_product'] -%}
with

content_rules as (
    select * from {{ ref('content_rules') }}
),

content_fallbacks as (
    select * from {{ ref('content_fallbacks') }}
),

send_preferences as (
    select * from {{ ref('fct_send_preferences') }}
),

spine as (
    select 'unknown_profile' as fallback_id
),

default_rule as (
    select
        rule_id,
        content_block,
        offer_code,
        template_id,
        subject_template,
        preheader_template
    from content_rules
    where
        segment_id is null
        and model_name is null
        and tier is null
        and cluster_label is null
    qualify row_number() over (order by priority asc, rule_id asc) = 1
),

unknown_person as (
    -- an unknown person has no value for any template variable
    select
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as last_viewed_category,
        cast(null as {{ dbt.type_string() }}) as last_viewed_product,
        cast(null as {{ dbt.type_string() }}) as recommended_product
),

fallbacks as (
    select
        max(case when variable = 'first_name' then fallback_value end) as first_name_fallback,
        max(case when variable = 'last_viewed_category' then fallback_value end) as last_viewed_category_fallback,
        max(case when variable = 'last_viewed_product' then fallback_value end) as last_viewed_product_fallback,
        max(case when variable = 'recommended_product' then fallback_value end) as recommended_product_fallback
    from content_fallbacks
),

send_hours as (
    select
        best_send_hour_utc,
        case when send_hour_source = 'population' then 'population' else 'most_common' end as send_hour_source,
        count(*) as people
    from send_preferences
    group by 1, 2
),

population_hour as (
    select
        best_send_hour_utc,
        send_hour_source
    from send_hours
    qualify row_number() over (
        order by
            case when send_hour_source = 'population' then 0 else 1 end asc,
            people desc,
            best_send_hour_utc asc
    ) = 1
),

final as (
    select
        -- ids
        spine.fallback_id,
        default_rule.rule_id,

        -- strings
        default_rule.content_block,
        nullif(default_rule.offer_code, '') as offer_code,
        default_rule.template_id,
        {{ mailroom.fill_template('default_rule.subject_template', variables, 'unknown_person', 'fallbacks') }}
            as subject_line,
        {{ mailroom.fill_template('default_rule.preheader_template', variables, 'unknown_person', 'fallbacks') }}
            as preheader,
        {{ mailroom.missing_template_variables(
            ['default_rule.subject_template', 'default_rule.preheader_template'],
            variables,
            'unknown_person'
        ) }} as fallback_variables,
        coalesce(population_hour.send_hour_source, 'default') as send_hour_source,

        -- numbers
        cast(
            coalesce(population_hour.best_send_hour_utc, {{ var('send_time_default_hour_utc') }}) as integer
        ) as best_send_hour_utc,
        {{ var('frequency_cap_emails_per_7_days') }} as frequency_cap_7d,

        -- dates
        {{ mailroom.as_of_date() }} as as_of_date
    from spine
    left join default_rule
        on 1 = 1
    cross join unknown_person
    cross join fallbacks
    left join population_hour
        on 1 = 1
)

select * from final
