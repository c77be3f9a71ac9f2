{#- One row per comparison pattern of the candidate pairs with its match
    weight (the prior log-odds plus the weights of its levels, in bits);
    int_identity__pair_scores adds the term-frequency adjustment and the
    probability. -#}
with

candidate_patterns as (
    select * from {{ ref('int_identity__candidate_patterns') }}
),

match_parameters as (
    select * from {{ ref('int_identity__match_parameters') }}
),

match_prior as (
    select max(prior_match_probability) as prior_match_probability
    from match_parameters
),

patterns as (
    select distinct
        pattern_key,
        {%- for name in mailroom.identity_comparison_names() %}
            gamma_{{ name }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from candidate_patterns
),

pattern_levels as (
    {%- for name in mailroom.identity_comparison_names() %}
        select
            pattern_key,
            '{{ name }}' as comparison,
            gamma_{{ name }} as comparison_level
        from patterns
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

pattern_weights as (
    select
        pattern_levels.pattern_key,
        -- a missing value (level -1) is no evidence either way
        sum(coalesce(match_parameters.match_weight, 0)) as level_weight
    from pattern_levels
    left join match_parameters
        on
            pattern_levels.comparison = match_parameters.comparison
            and pattern_levels.comparison_level = match_parameters.comparison_level
    group by 1
),

final as (
    select
        pattern_weights.pattern_key,
        ln(match_prior.prior_match_probability / (1 - match_prior.prior_match_probability)) / ln(2)
        + pattern_weights.level_weight as match_weight
    from pattern_weights
    cross join match_prior
)

select
    pattern_key,
    match_weight
from final
