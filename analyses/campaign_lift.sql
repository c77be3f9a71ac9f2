{#- Campaign lift: which campaigns beat their holdout. One row per treated
    variant (scope variant, the intervals of fct_campaign_results), per
    campaign with its variants combined (scope campaign: Newcombe's interval
    for the conversion lift, Welch's for revenue per recipient), and one row
    pooling every campaign with a holdout (scope all_campaigns: Mantel-Haenszel
    weights n1 n0 / (n1 + n0), each campaign's variance from the Agresti-Caffo
    adjusted proportions; mailroom/campaign_score.py computes the same figure
    in Python). beats_holdout: the conversion lift's interval lies above 0.
    Run: mailroom campaign-lift, or dbt compile --select campaign_lift and
    query target/compiled/mailroom/analyses/campaign_lift.sql. -#}
{%- set z = mailroom.confidence_z(var('campaign_confidence_level')) -%}

with

fct_campaign_results as (
    select * from {{ ref('fct_campaign_results') }}
),

variant_rows as (
    select
        'variant' as scope,
        campaign_id,
        campaign_name,
        variant,
        recipients,
        holdout_recipients,
        conversion_rate,
        holdout_conversion_rate,
        conversion_lift,
        conversion_lift_ci_low,
        conversion_lift_ci_high,
        revenue_per_recipient_lift,
        revenue_per_recipient_lift_ci_low,
        revenue_per_recipient_lift_ci_high
    from fct_campaign_results
    where not is_holdout
),

treated as (
    select
        campaign_id,
        campaign_name,
        sum(recipients) as n1,
        sum(converted_recipients) as x1,
        sum(conversion_revenue) as revenue1,
        -- the variants' sums of squared window revenue, to recombine their variance
        sum(
            (recipients - 1) * coalesce(revenue_per_recipient_variance, 0)
            + recipients * revenue_per_recipient * revenue_per_recipient
        ) as sum_squares1
    from fct_campaign_results
    where not is_holdout
    group by 1, 2
),

holdouts as (
    select
        campaign_id,
        recipients as n0,
        converted_recipients as x0,
        conversion_revenue as revenue0,
        coalesce(revenue_per_recipient_variance, 0) as variance0
    from fct_campaign_results
    where is_holdout
),

compared as (
    select
        treated.campaign_id,
        treated.campaign_name,
        treated.n1,
        treated.x1,
        holdouts.n0,
        holdouts.x0,
        holdouts.variance0,
        cast(treated.x1 as double) / treated.n1 as p1,
        cast(holdouts.x0 as double) / holdouts.n0 as p0,
        cast(treated.revenue1 as double) / treated.n1 as m1,
        cast(holdouts.revenue0 as double) / holdouts.n0 as m0,
        -- never below 0 by rounding
        case
            when treated.n1 > 1
                then {{ mailroom.greatest_of([
                    '(treated.sum_squares1 - treated.revenue1 * treated.revenue1 / treated.n1) / (treated.n1 - 1)',
                    '0',
                ]) }}
            else 0
        end as variance1,
        {{ mailroom.wilson_bound('treated.x1', 'treated.n1', z) }} as p1_low,
        {{ mailroom.wilson_bound('treated.x1', 'treated.n1', z, upper=true) }} as p1_high,
        {{ mailroom.wilson_bound('holdouts.x0', 'holdouts.n0', z) }} as p0_low,
        {{ mailroom.wilson_bound('holdouts.x0', 'holdouts.n0', z, upper=true) }} as p0_high
    from treated
    inner join holdouts
        on treated.campaign_id = holdouts.campaign_id
    where treated.n1 > 0 and holdouts.n0 > 0
),

campaign_rows as (
    select
        'campaign' as scope,
        campaign_id,
        campaign_name,
        cast(null as varchar) as variant,
        n1 as recipients,
        n0 as holdout_recipients,
        p1 as conversion_rate,
        p0 as holdout_conversion_rate,
        p1 - p0 as conversion_lift,
        {{ mailroom.newcombe_bound('p1', 'p1_low', 'p1_high', 'p0', 'p0_low', 'p0_high') }}
            as conversion_lift_ci_low,
        {{ mailroom.newcombe_bound('p1', 'p1_low', 'p1_high', 'p0', 'p0_low', 'p0_high', upper=true) }}
            as conversion_lift_ci_high,
        m1 - m0 as revenue_per_recipient_lift,
        m1 - m0 - {{ z }} * sqrt(variance1 / n1 + variance0 / n0) as revenue_per_recipient_lift_ci_low,
        m1 - m0 + {{ z }} * sqrt(variance1 / n1 + variance0 / n0) as revenue_per_recipient_lift_ci_high
    from compared
),

weighted as (
    select
        *,
        cast(n1 as double) * n0 / (n1 + n0) as weight,
        -- Agresti-Caffo: (x + 1) / (n + 2) keeps a small holdout's variance above 0
        (x1 + 1.0) / (n1 + 2) * (1 - (x1 + 1.0) / (n1 + 2)) / (n1 + 2)
        + (x0 + 1.0) / (n0 + 2) * (1 - (x0 + 1.0) / (n0 + 2)) / (n0 + 2) as conversion_variance,
        variance1 / n1 + variance0 / n0 as revenue_variance
    from compared
),

pooled as (
    select
        sum(n1) as n1,
        sum(n0) as n0,
        cast(sum(x1) as double) / sum(n1) as p1,
        cast(sum(x0) as double) / sum(n0) as p0,
        sum(weight * (p1 - p0)) / sum(weight) as conversion_lift,
        sqrt(sum(weight * weight * conversion_variance)) / sum(weight) as conversion_lift_se,
        sum(weight * (m1 - m0)) / sum(weight) as revenue_per_recipient_lift,
        sqrt(sum(weight * weight * revenue_variance)) / sum(weight) as revenue_per_recipient_lift_se
    from weighted
    having count(*) > 0
),

pooled_rows as (
    select
        'all_campaigns' as scope,
        cast(null as varchar) as campaign_id,
        'All campaigns with a holdout' as campaign_name,
        cast(null as varchar) as variant,
        n1 as recipients,
        n0 as holdout_recipients,
        p1 as conversion_rate,
        p0 as holdout_conversion_rate,
        conversion_lift,
        conversion_lift - {{ z }} * conversion_lift_se as conversion_lift_ci_low,
        conversion_lift + {{ z }} * conversion_lift_se as conversion_lift_ci_high,
        revenue_per_recipient_lift,
        revenue_per_recipient_lift - {{ z }} * revenue_per_recipient_lift_se as revenue_per_recipient_lift_ci_low,
        revenue_per_recipient_lift + {{ z }} * revenue_per_recipient_lift_se as revenue_per_recipient_lift_ci_high
    from pooled
),

unioned as (
    select * from variant_rows
    union all
    select * from campaign_rows
    union all
    select * from pooled_rows
),

final as (
    select
        *,
        case
            when conversion_lift_ci_low is not null
                then conversion_lift_ci_low > 0 or conversion_lift_ci_high < 0
        end as is_significant,
        coalesce(conversion_lift_ci_low > 0, false) as beats_holdout
    from unioned
)

select * from final
order by 1, 2, 4  -- scope (all_campaigns, campaign, variant), campaign_id, variant
