with

fct_customer_clusters as (
    select * from {{ ref('fct_customer_clusters') }}
),

int_customers__features as (
    select * from {{ ref('int_customers__features') }}
),

clusters as (
    -- Cluster attributes repeat on every member row: one value per cluster.
    select
        cluster_id,
        max(cluster_label) as cluster_label,
        max(cluster_profile) as cluster_profile,
        max(cluster_centroid) as cluster_centroid,
        max(n_clusters) as n_clusters,
        max(silhouette_score) as silhouette_score,
        max(silhouette_by_k) as silhouette_by_k,
        max(algorithm) as algorithm,
        max(as_of_date) as as_of_date,
        max(clustered_at) as clustered_at,
        count(*) as member_count
    from fct_customer_clusters
    group by 1
),

population as (
    select count(*) as person_count from fct_customer_clusters
),

behaviour as (
    -- Plain means over the members; avg() skips nulls, so a rate or an order
    -- value averages over the members it exists for.
    select
        fct_customer_clusters.cluster_id,
        avg(case when int_customers__features.orders_lifetime > 0 then 1.0 else 0.0 end) as buyer_share,
        avg(int_customers__features.orders_lifetime) as avg_orders_lifetime,
        avg(int_customers__features.revenue_lifetime) as avg_revenue_lifetime,
        avg(int_customers__features.avg_order_value) as avg_order_value,
        avg(int_customers__features.discount_share) as avg_discount_share,
        avg(int_customers__features.days_since_last_order) as avg_days_since_last_order,
        avg(int_customers__features.product_views_90d) as avg_product_views_90d,
        avg(int_customers__features.visits_90d) as avg_visits_90d,
        avg(int_customers__features.open_rate_90d) as avg_open_rate_90d,
        avg(int_customers__features.click_rate_90d) as avg_click_rate_90d,
        avg(int_customers__features.tenure_days) as avg_tenure_days
    from fct_customer_clusters
    inner join int_customers__features
        on fct_customer_clusters.person_id = int_customers__features.person_id
    group by 1
),

final as (
    select
        -- ids
        cast(clusters.cluster_id as bigint) as cluster_id,

        -- strings
        cast(clusters.cluster_label as {{ dbt.type_string() }}) as cluster_label,
        cast(clusters.cluster_profile as {{ dbt.type_string() }}) as cluster_profile,
        cast(clusters.cluster_centroid as {{ dbt.type_string() }}) as cluster_centroid,
        cast(clusters.silhouette_by_k as {{ dbt.type_string() }}) as silhouette_by_k,
        cast(clusters.algorithm as {{ dbt.type_string() }}) as algorithm,

        -- numbers
        cast(clusters.member_count as bigint) as member_count,
        cast(1.0 * clusters.member_count / nullif(population.person_count, 0) as double) as member_share,
        cast(clusters.n_clusters as bigint) as n_clusters,
        cast(clusters.silhouette_score as double) as silhouette_score,
        cast(behaviour.buyer_share as double) as buyer_share,
        cast(behaviour.avg_orders_lifetime as double) as avg_orders_lifetime,
        cast(behaviour.avg_revenue_lifetime as double) as avg_revenue_lifetime,
        cast(behaviour.avg_order_value as double) as avg_order_value,
        cast(behaviour.avg_discount_share as double) as avg_discount_share,
        cast(behaviour.avg_days_since_last_order as double) as avg_days_since_last_order,
        cast(behaviour.avg_product_views_90d as double) as avg_product_views_90d,
        cast(behaviour.avg_visits_90d as double) as avg_visits_90d,
        cast(behaviour.avg_open_rate_90d as double) as avg_open_rate_90d,
        cast(behaviour.avg_click_rate_90d as double) as avg_click_rate_90d,
        cast(behaviour.avg_tenure_days as double) as avg_tenure_days,

        -- dates and timestamps
        cast(clusters.as_of_date as date) as as_of_date,
        cast(clusters.clustered_at as {{ dbt.type_timestamp() }}) as clustered_at
    from clusters
    cross join population
    left join behaviour
        on clusters.cluster_id = behaviour.cluster_id
)

select * from final
