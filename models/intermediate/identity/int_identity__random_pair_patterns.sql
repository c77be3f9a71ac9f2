{#- Comparison patterns of random record pairs, for the u probabilities
    (how often two different people agree by chance). A fixed-size sample
    of records, chosen by a hash of their id (the same data gives the same
    sample), is compared with itself: almost every such pair is two
    different people. population_records is the number of records the
    sample is drawn from (for the prior). -#}
with

comparable_records as (
    select * from {{ ref('int_identity__comparable_records') }}
),

sampled as (
    select *
    from comparable_records
    qualify row_number() over (order by {{ dbt.hash('node_id') }}, node_id) <= {{ var('identity_u_sample_records') }}
),

pairs as (
    select
        {{ mailroom.identity_comparison_levels('left_records', 'right_records') }}
    from sampled as left_records
    inner join sampled as right_records
        on left_records.node_id < right_records.node_id
),

population as (
    select count(*) as population_records
    from comparable_records
),

final as (
    select
        {{ mailroom.identity_pattern_key() }} as pattern_key,
        {%- for name in mailroom.identity_comparison_names() %}
            gamma_{{ name }},
        {%- endfor %}
        count(*) as pair_count,
        max(population.population_records) as population_records
    from pairs
    cross join population
    group by {% for name in mailroom.identity_comparison_names() %}{{ loop.index }}, {% endfor %}{{ mailroom.identity_comparison_names() | length + 1 }}
)

select * from final
