{#- One row per method (blended, popularity) and list length k: the offline
    evaluation of recommendations made at the split (the as-of date minus
    var('recommendation_eval_days')) with what was known by then, against the
    products people bought from the split to the as-of date. -#}
{%- set ks = mailroom.recommendation_eval_ks() -%}
with

blended as (
    select * from {{ ref('int_activation__recommendation_backtest_blended') }}
),

popularity as (
    select * from {{ ref('int_activation__recommendation_backtest_popularity') }}
),

outcomes as (
    select * from {{ ref('int_activation__recommendation_backtest_outcomes') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

recommendations as (
    select
        'blended' as recommendation_method,
        person_id,
        product_id,
        recommendation_rank
    from blended

    union all

    select
        'popularity' as recommendation_method,
        person_id,
        product_id,
        recommendation_rank
    from popularity
),

methods as (
    select distinct recommendation_method
    from recommendations
),

list_lengths as (
    {% for k in ks -%}
        select {{ k }} as top_k
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

rank_positions as (
    {% for position in range(1, (ks | max) + 1) -%}
        select {{ position }} as rank_position
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

ideal_gains as (
    -- the best possible DCG at k for a person with rank_position relevant products (all of them on top)
    select
        list_lengths.top_k,
        rank_positions.rank_position,
        sum(1.0 / (ln(rank_positions.rank_position + 1) / ln(2))) over (
            partition by list_lengths.top_k
            order by rank_positions.rank_position
            rows between unbounded preceding and current row
        ) as ideal_dcg
    from list_lengths
    inner join rank_positions
        on list_lengths.top_k >= rank_positions.rank_position
),

evaluated_people as (
    select
        person_id,
        count(*) as relevant_products
    from outcomes
    group by 1
),

hits as (
    -- recommended products the person bought in the window
    select
        recommendations.recommendation_method,
        recommendations.person_id,
        recommendations.recommendation_rank
    from recommendations
    inner join outcomes
        on
            recommendations.person_id = outcomes.person_id
            and recommendations.product_id = outcomes.product_id
),

person_results as (
    select
        methods.recommendation_method,
        list_lengths.top_k,
        evaluated_people.person_id,
        evaluated_people.relevant_products,
        count(hits.person_id) as hit_count,
        coalesce(sum(1.0 / (ln(hits.recommendation_rank + 1) / ln(2))), 0) as dcg
    from evaluated_people
    cross join methods
    cross join list_lengths
    left join hits
        on
            evaluated_people.person_id = hits.person_id
            and methods.recommendation_method = hits.recommendation_method
            and list_lengths.top_k >= hits.recommendation_rank
    group by 1, 2, 3, 4
),

accuracy as (
    select
        person_results.recommendation_method,
        person_results.top_k,
        count(*) as evaluated_people,
        sum(case when person_results.hit_count > 0 then 1 else 0 end) as people_with_hit,
        avg(case when person_results.hit_count > 0 then 1.0 else 0.0 end) as hit_rate,
        avg(person_results.dcg / ideal_gains.ideal_dcg) as ndcg,
        avg(1.0 * person_results.hit_count / person_results.top_k) as precision_at_k,
        avg(1.0 * person_results.hit_count / person_results.relevant_products) as recall_at_k
    from person_results
    inner join ideal_gains
        on
            person_results.top_k = ideal_gains.top_k
            and least(person_results.top_k, person_results.relevant_products) = ideal_gains.rank_position
    group by 1, 2
),

catalogue as (
    select count(*) as catalogue_products
    from products
    where created_at is null or created_at < {{ mailroom.recommendation_split_at() }}
),

coverage as (
    select
        recommendations.recommendation_method,
        list_lengths.top_k,
        count(distinct recommendations.product_id) as recommended_products
    from recommendations
    inner join list_lengths
        on recommendations.recommendation_rank <= list_lengths.top_k
    group by 1, 2
),

results as (
    select
        accuracy.*,
        coverage.recommended_products,
        catalogue.catalogue_products
    from accuracy
    inner join coverage
        on
            accuracy.recommendation_method = coverage.recommendation_method
            and accuracy.top_k = coverage.top_k
    cross join catalogue
),

final as (
    select
        -- strings
        results.recommendation_method,

        -- numbers
        cast(results.top_k as integer) as top_k,
        cast(results.evaluated_people as bigint) as evaluated_people,
        cast(results.people_with_hit as bigint) as people_with_hit,
        cast(results.hit_rate as double) as hit_rate,
        cast(results.ndcg as double) as ndcg,
        cast(results.precision_at_k as double) as precision_at_k,
        cast(results.recall_at_k as double) as recall_at_k,
        cast(results.recommended_products as bigint) as recommended_products,
        cast(results.catalogue_products as bigint) as catalogue_products,
        cast(1.0 * results.recommended_products / results.catalogue_products as double) as coverage,
        cast(baseline.hit_rate as double) as baseline_hit_rate,
        cast(baseline.ndcg as double) as baseline_ndcg,
        cast(results.hit_rate / nullif(baseline.hit_rate, 0) as double) as hit_rate_lift,
        cast({{ var('recommendation_eval_days') }} as integer) as evaluation_days,
        cast({{ var('recommendation_popularity_days') }} as integer) as popularity_days,

        -- booleans
        results.top_k = {{ var('recommendation_count') }} as is_list_length,
        results.evaluated_people >= {{ var('recommendation_eval_min_people') }} as is_conclusive,

        -- dates
        cast({{ dbt.dateadd('day', -var('recommendation_eval_days'), mailroom.as_of_date()) }} as date) as split_date,

        -- timestamps
        {{ mailroom.recommendation_split_at() }} as evaluation_start_at,
        {{ mailroom.as_of_timestamp() }} as evaluation_end_at
    from results
    inner join results as baseline
        on
            results.top_k = baseline.top_k
            and baseline.recommendation_method = 'popularity'
)

select * from final
