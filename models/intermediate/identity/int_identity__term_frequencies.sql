{#- One row per (name comparison, name key): the share of comparable records
    with that name. Two different people agree on a name with probability
    about its share, so agreeing on a rare surname is stronger evidence than
    agreeing on "smith" (term-frequency adjustment, int_identity__pair_scores). -#}
with

comparable_records as (
    select * from {{ ref('int_identity__comparable_records') }}
),

names as (
    select
        'first_name' as comparison,
        first_name_key as name_key
    from comparable_records
    where first_name_key is not null
    union all
    select
        'last_name' as comparison,
        last_name_key as name_key
    from comparable_records
    where last_name_key is not null
),

final as (
    select
        comparison,
        name_key,
        count(*) as record_count,
        count(*) * 1.0 / sum(count(*)) over (partition by comparison) as term_frequency
    from names
    group by 1, 2
)

select * from final
