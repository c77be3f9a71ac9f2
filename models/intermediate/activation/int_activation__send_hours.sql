{#- One row per person: the UTC hour their e-mail opens suggest sending at
    (people without opens get the population's best hour; a warehouse without
    any opens yet, var('send_time_default_hour_utc')). Each hour's share of the person's first opens (one per
    message, in the var('send_time_lookback_days') days before the as-of
    date) is shrunk towards the population's share of that hour, as if the
    person had var('send_time_prior_opens') more opens spread like everyone's:
    score = (opens in hour + prior * population share) / (opens + prior).
    A person with one open is mostly the population; one with forty opens is
    mostly themselves. Only hours the person opened in, and the population's
    best hour, can win (every other hour scores below the latter). -#}
{%- set prior = var('send_time_prior_opens') -%}
with

golden_records as (
    select * from {{ ref('int_customers__golden_records') }}
),

email_events as (
    select * from {{ ref('fct_email_events') }}
),

opens as (
    select
        person_id,
        cast(extract(hour from event_at) as integer) as send_hour
    from email_events
    where
        event_type = 'open'
        and is_first_of_type
        and person_id is not null
        and known_at < {{ mailroom.as_of_timestamp() }}
        and event_at >= {{ dbt.dateadd('day', -var('send_time_lookback_days'), mailroom.as_of_timestamp()) }}
),

population_hours as (
    select
        send_hour,
        count(*) * 1.0 / sum(count(*)) over () as population_share
    from opens
    group by 1
),

population_best as (
    select send_hour
    from population_hours
    qualify row_number() over (order by population_share desc, send_hour asc) = 1
),

person_hours as (
    select
        person_id,
        send_hour,
        count(*) as hour_opens
    from opens
    group by 1, 2
),

person_totals as (
    select
        person_id,
        sum(hour_opens) as total_opens
    from person_hours
    group by 1
),

candidates as (
    select
        person_id,
        send_hour
    from person_hours

    union

    select
        person_totals.person_id,
        population_best.send_hour
    from person_totals
    cross join population_best
),

scored as (
    select
        candidates.person_id,
        candidates.send_hour,
        person_totals.total_opens,
        coalesce(person_hours.hour_opens, 0) as hour_opens,
        (coalesce(person_hours.hour_opens, 0) + {{ prior }} * coalesce(population_hours.population_share, 0))
        / (person_totals.total_opens + {{ prior }}) as hour_score
    from candidates
    inner join person_totals
        on candidates.person_id = person_totals.person_id
    left join person_hours
        on
            candidates.person_id = person_hours.person_id
            and candidates.send_hour = person_hours.send_hour
    left join population_hours
        on candidates.send_hour = population_hours.send_hour
),

person_best as (
    select
        person_id,
        send_hour,
        hour_score,
        hour_opens,
        total_opens
    from scored
    qualify row_number() over (
        partition by person_id
        order by hour_score desc, hour_opens desc, send_hour asc
    ) = 1
),

final as (
    select
        -- ids
        golden_records.person_id,

        -- strings
        case when person_best.person_id is null then 'population' else 'personal' end as send_hour_source,

        -- numbers
        coalesce(person_best.send_hour, population_best.send_hour, {{ var('send_time_default_hour_utc') }})
            as best_send_hour_utc,
        coalesce(person_best.hour_score, population_hours.population_share) as send_hour_score,
        coalesce(person_best.hour_opens, 0) as best_hour_opens,
        coalesce(person_best.total_opens, 0) as total_opens
    from golden_records
    left join person_best
        on golden_records.person_id = person_best.person_id
    left join population_best
        on 1 = 1
    left join population_hours
        on population_best.send_hour = population_hours.send_hour
)

select * from final
