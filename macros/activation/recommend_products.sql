{#- Product recommendations: one row per person of dim_customers and rank
    (1..list_length), computed only from what the warehouse knew before
    `cutoff_at`. The one definition behind the production list
    (fct_recommendations, cut-off = the as-of timestamp) and the offline
    evaluation (int_activation__recommendation_backtest_*, cut-off = the split),
    so the two cannot drift apart.

    Evidence known before the cut-off: product views and cart adds of
    fct_web_events (attributed_at < cut-off) and purchased units of standing
    orders (known before the cut-off, not cancelled or refunded by then), each
    weighted by var('affinity_weights') and halved every
    var('affinity_half_life_days') days of age, as fct_customer_affinities.

    Components, each a distribution over products:
    - co_purchase: item-to-item similarity from buyers who bought both products
      (cosine over buyers, shrunk for rare pairs:
      co / sqrt(n_i * n_j) * co / (co + var('recommendation_similarity_shrinkage'))),
      the top var('recommendation_pool_sizes').similar_items per product, applied
      to the person's most weighted products (viewed, carted or bought);
    - affinity: the person's share of interest in the product itself (a viewed
      or carted product, a consumable to buy again), and their category and
      brand shares, each spread over the group's products by recent sales;
    - popularity: recent best sellers (distinct buyers in the
      var('recommendation_popularity_days') days before the cut-off).
    score = c * (w_co_purchase * co_purchase + w_product * product + w_category * category
                 + w_brand * brand) / (sum of the w) + (1 - c) * popularity,
    with the w from var('recommendation_weights') and
    c = evidence / (evidence + var('recommendation_prior_strength')), evidence
    being the person's decayed signal weight: the less is known about a person,
    the more their list is the best sellers. recommendation_source is the
    largest of the co_purchase, affinity (product + category + brand) and
    popularity parts.

    Candidates come from bounded pools per person (var('recommendation_pool_sizes'):
    the top co-purchase products, the top affinity products, the products the
    person showed interest in, and the best sellers down to
    max(best_sellers, list_length) plus the products the person may not get,
    so a list is always full), never a person x catalogue cross join; the
    co-purchase part counts for the person's top co-purchase products only.
    A product the person already bought (standing order) is never recommended
    unless it is consumable. People get an integer key for the large joins.

    method='popularity' keeps only the popularity component (the evaluation's
    baseline) with the same candidates rule and exclusions. -#}
{% macro recommend_products(cutoff_at, list_length, method='blended') -%}
{%- set signal_weights = var('affinity_weights') -%}
{%- set pools = var('recommendation_pool_sizes') -%}
{%- set blend = var('recommendation_weights') -%}
{%- set is_blended = method == 'blended' -%}
{%- set blend_total = blend['co_purchase'] + blend['product'] + blend['category'] + blend['brand'] -%}
{%- set co_purchase_weight = blend['co_purchase'] / blend_total -%}
{%- set product_weight = blend['product'] / blend_total -%}
{%- set category_weight = blend['category'] / blend_total -%}
{%- set brand_weight = blend['brand'] / blend_total -%}
{%- if method not in ['blended', 'popularity'] -%}
    {{ exceptions.raise_compiler_error("recommend_products: method must be 'blended' or 'popularity', got " ~ method) }}
{%- endif -%}
{#- the best-seller pool is at least as long as any list, so a shorter list is a prefix of a longer one -#}
{%- set popularity_pool = [pools['best_sellers'], list_length] | max -%}
{%- set cutoff = 'cast(' ~ cutoff_at ~ ' as ' ~ dbt.type_timestamp() ~ ')' -%}
{#- ranks order by scores rounded to 10 decimals: floating-point sums differ in the last bits from run to run
    and engine to engine, so ties are broken by ids, never by chance -#}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

products as (
    select * from {{ ref('stg_shop__products') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

{%- if is_blended %}

web_events as (
    select * from {{ ref('fct_web_events') }}
),
{%- endif %}

people as (
    -- an integer key per person for the large joins and groupings (person_id is a 32-character hash)
    select
        person_id,
        row_number() over (order by person_id) as person_key
    from customers
),

catalogue as (
    -- products on sale at the cut-off
    select
        product_id,
        product_name,
        category,
        brand,
        is_consumable
    from products
    where created_at is null or created_at < {{ cutoff }}
),

purchases as (
    -- lines of orders standing at the cut-off: known by then and not cancelled or refunded by then
    select
        people.person_key,
        order_items.product_id,
        catalogue.category,
        catalogue.brand,
        catalogue.is_consumable,
        order_items.quantity,
        order_items.ordered_at
    from order_items
    inner join people
        on order_items.person_id = people.person_id
    inner join catalogue
        on order_items.product_id = catalogue.product_id
    where
        order_items.known_at < {{ cutoff }}
        and (order_items.reversed_at is null or order_items.reversed_at >= {{ cutoff }})
),

owned_products as (
    -- what the person may not be offered again: products bought and not consumable
    select distinct
        person_key,
        product_id
    from purchases
    where not is_consumable
),

owned_counts as (
    select
        person_key,
        count(*) as owned_products
    from owned_products
    group by 1
),

product_sales as (
    select
        product_id,
        count(distinct person_key) as recent_buyers
    from purchases
    where ordered_at >= {{ dbt.dateadd('day', -var('recommendation_popularity_days'), cutoff) }}
    group by 1
),

product_popularity as (
    -- recent buyers, with one pseudo-buyer per product so a product without sales still has a share
    select
        catalogue.product_id,
        catalogue.category,
        catalogue.brand,
        cast(coalesce(product_sales.recent_buyers, 0) + 1 as double)
        / sum(coalesce(product_sales.recent_buyers, 0) + 1) over () as popularity_score,
        cast(coalesce(product_sales.recent_buyers, 0) + 1 as double)
        / sum(coalesce(product_sales.recent_buyers, 0) + 1) over (partition by catalogue.category) as category_sales_share,
        cast(coalesce(product_sales.recent_buyers, 0) + 1 as double)
        / sum(coalesce(product_sales.recent_buyers, 0) + 1) over (partition by catalogue.brand) as brand_sales_share,
        row_number() over (
            order by coalesce(product_sales.recent_buyers, 0) desc, catalogue.product_id asc
        ) as popularity_rank,
        row_number() over (
            partition by catalogue.category
            order by coalesce(product_sales.recent_buyers, 0) desc, catalogue.product_id asc
        ) as category_popularity_rank,
        row_number() over (
            partition by catalogue.brand
            order by coalesce(product_sales.recent_buyers, 0) desc, catalogue.product_id asc
        ) as brand_popularity_rank
    from catalogue
    left join product_sales
        on catalogue.product_id = product_sales.product_id
),

popularity_candidates as (
    -- the best sellers down to the pool size plus the person's owned products: enough left after exclusions
    select
        people.person_key,
        product_popularity.product_id
    from people
    left join owned_counts
        on people.person_key = owned_counts.person_key
    inner join product_popularity
        on product_popularity.popularity_rank <= {{ popularity_pool }} + coalesce(owned_counts.owned_products, 0)
),
{%- if is_blended %}

signals as (
    select
        people.person_key,
        web_events.product_id,
        web_events.product_category as category,
        web_events.product_brand as brand,
        web_events.event_at as signal_at,
        case web_events.event_type
            when 'product_view' then {{ signal_weights['product_view'] }}
            when 'add_to_cart' then {{ signal_weights['add_to_cart'] }}
        end as weight
    from web_events
    inner join people
        on web_events.person_id = people.person_id
    where
        web_events.event_type in ('product_view', 'add_to_cart')
        and web_events.attributed_at < {{ cutoff }}

    union all

    select
        person_key,
        product_id,
        category,
        brand,
        ordered_at as signal_at,
        {{ signal_weights['purchase'] }} * quantity as weight
    from purchases
),

decayed_signals as (
    select
        person_key,
        product_id,
        category,
        brand,
        weight * power(
            0.5,
            {{ dbt.datediff('signal_at', cutoff, 'hour') }} / (24.0 * {{ var('affinity_half_life_days') }})
        ) as signal_score
    from signals
),

person_evidence as (
    -- how much is known about the person: the weight of the profile against the best sellers
    select
        person_key,
        sum(signal_score) as evidence,
        sum(signal_score) / (sum(signal_score) + {{ var('recommendation_prior_strength') }}) as profile_confidence
    from decayed_signals
    group by 1
),

category_affinities as (
    select
        person_key,
        category,
        sum(signal_score) / sum(sum(signal_score)) over (partition by person_key) as category_share,
        row_number() over (partition by person_key order by round(sum(signal_score), 10) desc, category asc) as category_rank
    from decayed_signals
    where category is not null
    group by 1, 2
),

brand_affinities as (
    select
        person_key,
        brand,
        sum(signal_score) / sum(sum(signal_score)) over (partition by person_key) as brand_share,
        row_number() over (partition by person_key order by round(sum(signal_score), 10) desc, brand asc) as brand_rank
    from decayed_signals
    where brand is not null
    group by 1, 2
),

affinity_pool as (
    -- the best sellers of the person's top categories and top brands
    select
        category_affinities.person_key,
        product_popularity.product_id
    from category_affinities
    inner join product_popularity
        on category_affinities.category = product_popularity.category
    where
        category_affinities.category_rank <= {{ pools['categories'] }}
        and product_popularity.category_popularity_rank <= {{ pools['products_per_group'] }}

    union

    select
        brand_affinities.person_key,
        product_popularity.product_id
    from brand_affinities
    inner join product_popularity
        on brand_affinities.brand = product_popularity.brand
    where
        brand_affinities.brand_rank <= {{ pools['brands'] }}
        and product_popularity.brand_popularity_rank <= {{ pools['products_per_group'] }}
),

buyer_products as (
    -- each buyer's distinct products, the most recent ones only (bounds the co-purchase self-join)
    select
        person_key,
        product_id,
        row_number() over (partition by person_key order by max(ordered_at) desc, product_id asc) as recency_rank
    from purchases
    group by 1, 2
),

basket_products as (
    select
        person_key,
        product_id
    from buyer_products
    where recency_rank <= {{ pools['basket_items'] }}
),

product_buyers as (
    select
        product_id,
        count(*) as buyers
    from basket_products
    group by 1
),

co_purchases as (
    select
        basket_products.product_id,
        other_products.product_id as similar_product_id,
        count(*) as co_buyers
    from basket_products
    inner join basket_products as other_products
        on
            basket_products.person_key = other_products.person_key
            and basket_products.product_id <> other_products.product_id
    group by 1, 2
),

item_similarities as (
    -- cosine over buyers, shrunk towards 0 for pairs few people bought together
    select
        co_purchases.product_id,
        co_purchases.similar_product_id,
        co_purchases.co_buyers / sqrt(cast(product_buyers.buyers as double) * similar_buyers.buyers)
        * co_purchases.co_buyers / (co_purchases.co_buyers + {{ var('recommendation_similarity_shrinkage') }}) as similarity
    from co_purchases
    inner join product_buyers
        on co_purchases.product_id = product_buyers.product_id
    inner join product_buyers as similar_buyers
        on co_purchases.similar_product_id = similar_buyers.product_id
),

nearest_items as (
    select
        product_id,
        similar_product_id,
        similarity
    from item_similarities
    qualify row_number() over (
        partition by product_id
        order by similarity desc, similar_product_id asc
    ) <= {{ pools['similar_items'] }}
),

seed_products as (
    -- the products the person showed most interest in (viewed, carted, bought; decayed)
    select
        person_key,
        product_id,
        sum(signal_score) as seed_weight
    from decayed_signals
    where product_id is not null
    group by 1, 2
    qualify row_number() over (
        partition by person_key
        order by round(sum(signal_score), 10) desc, product_id asc
    ) <= {{ pools['seed_items'] }}
),

product_interest as (
    -- the person's share of interest in the product itself (a viewed or carted product, a consumable bought before)
    select
        seed_products.person_key,
        seed_products.product_id,
        seed_products.seed_weight / person_evidence.evidence as product_share
    from seed_products
    inner join person_evidence
        on seed_products.person_key = person_evidence.person_key
),

co_purchase_sums as (
    select
        seed_products.person_key,
        nearest_items.similar_product_id as product_id,
        sum(seed_products.seed_weight * nearest_items.similarity) as weighted_similarity
    from seed_products
    inner join nearest_items
        on seed_products.product_id = nearest_items.product_id
    group by 1, 2
),

co_purchase_scores as (
    select
        person_key,
        product_id,
        weighted_similarity / sum(weighted_similarity) over (partition by person_key) as co_purchase_score,
        row_number() over (
            partition by person_key
            order by round(weighted_similarity, 10) desc, product_id asc
        ) as co_purchase_rank
    from co_purchase_sums
),

affinity_scores as (
    -- category-led (the person's share of the category x the product's share of its sales) and brand-led
    select
        affinity_pool.person_key,
        affinity_pool.product_id,
        {{ category_weight }} * coalesce(category_affinities.category_share * product_popularity.category_sales_share, 0)
        + {{ brand_weight }} * coalesce(brand_affinities.brand_share * product_popularity.brand_sales_share, 0) as affinity_score
    from affinity_pool
    inner join product_popularity
        on affinity_pool.product_id = product_popularity.product_id
    left join category_affinities
        on
            affinity_pool.person_key = category_affinities.person_key
            and product_popularity.category = category_affinities.category
    left join brand_affinities
        on
            affinity_pool.person_key = brand_affinities.person_key
            and product_popularity.brand = brand_affinities.brand
),

affinity_candidates as (
    select
        person_key,
        product_id
    from affinity_scores
    qualify row_number() over (
        partition by person_key
        order by round(affinity_score, 10) desc, product_id asc
    ) <= {{ pools['candidates'] }}
),
{%- endif %}

candidate_parts as (
    -- every pool's candidates with the parts they bring (a product can come from several pools)
    select
        person_key,
        product_id,
        0.0 as co_purchase_score,
        0.0 as product_share
    from popularity_candidates
    {%- if is_blended %}

    union all

    -- the co-purchase part counts for the person's top co-purchase products only
    select
        person_key,
        product_id,
        co_purchase_score,
        0.0 as product_share
    from co_purchase_scores
    where co_purchase_rank <= {{ pools['candidates'] }}

    union all

    select
        person_key,
        product_id,
        0.0 as co_purchase_score,
        0.0 as product_share
    from affinity_candidates

    union all

    select
        person_key,
        product_id,
        0.0 as co_purchase_score,
        product_share
    from product_interest
    {%- endif %}
),

candidates as (
    select
        person_key,
        product_id,
        max(co_purchase_score) as co_purchase_score,
        max(product_share) as product_share
    from candidate_parts
    group by 1, 2
),

eligible_candidates as (
    select candidates.*
    from candidates
    left join owned_products
        on
            candidates.person_key = owned_products.person_key
            and candidates.product_id = owned_products.product_id
    where owned_products.product_id is null
),

components as (
    select
        eligible_candidates.person_key,
        eligible_candidates.product_id,
        {%- if is_blended %}
        coalesce(person_evidence.profile_confidence, 0) * {{ co_purchase_weight }}
        * eligible_candidates.co_purchase_score as co_purchase_part,
        coalesce(person_evidence.profile_confidence, 0) * (
            {{ product_weight }} * eligible_candidates.product_share
            + {{ category_weight }} * coalesce(category_affinities.category_share * product_popularity.category_sales_share, 0)
            + {{ brand_weight }} * coalesce(brand_affinities.brand_share * product_popularity.brand_sales_share, 0)
        ) as affinity_part,
        (1 - coalesce(person_evidence.profile_confidence, 0)) * product_popularity.popularity_score as popularity_part,
        {%- else %}
        0.0 as co_purchase_part,
        0.0 as affinity_part,
        product_popularity.popularity_score as popularity_part,
        {%- endif %}
        product_popularity.popularity_rank
    from eligible_candidates
    inner join product_popularity
        on eligible_candidates.product_id = product_popularity.product_id
    {%- if is_blended %}
    left join person_evidence
        on eligible_candidates.person_key = person_evidence.person_key
    left join category_affinities
        on
            eligible_candidates.person_key = category_affinities.person_key
            and product_popularity.category = category_affinities.category
    left join brand_affinities
        on
            eligible_candidates.person_key = brand_affinities.person_key
            and product_popularity.brand = brand_affinities.brand
    {%- endif %}
),

ranked as (
    select
        person_key,
        product_id,
        round(co_purchase_part + affinity_part + popularity_part, 10) as score,
        case
            when co_purchase_part >= affinity_part and co_purchase_part >= popularity_part then 'co_purchase'
            when affinity_part >= popularity_part then 'affinity'
            else 'popularity'
        end as recommendation_source,
        row_number() over (
            partition by person_key
            order by round(co_purchase_part + affinity_part + popularity_part, 10) desc, popularity_rank asc, product_id asc
        ) as recommendation_rank
    from components
),

final as (
    select
        -- keys
        people.person_id,
        cast(ranked.recommendation_rank as integer) as recommendation_rank,
        ranked.product_id,

        -- product
        catalogue.product_name,
        catalogue.category,
        catalogue.brand,

        -- score and its dominant component
        cast(ranked.score as double) as score,
        ranked.recommendation_source,

        -- timestamps
        {{ cutoff }} as recommended_at
    from ranked
    inner join people
        on ranked.person_key = people.person_key
    inner join catalogue
        on ranked.product_id = catalogue.product_id
    where ranked.recommendation_rank <= {{ list_length }}
)

select * from final
{%- endmacro %}
