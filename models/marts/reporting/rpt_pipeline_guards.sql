{#- One row per guard: a stage that must not come out empty when what feeds it
    is not. Raw person-bearing rows make persons, persons known by the as-of
    date make features, features make scores, buyers make customer values. A
    failing guard fails the build (a data test) and its reason says why. -#}
with

reconciliation as (
    select * from {{ ref('rpt_source_reconciliation') }}
),

dim_customers as (
    select * from {{ ref('dim_customers') }}
),

int_customers__features as (
    select * from {{ ref('int_customers__features') }}
),

fct_propensity_scores as (
    select * from {{ ref('fct_propensity_scores') }}
),

dim_model_versions as (
    select * from {{ ref('dim_model_versions') }}
),

fct_orders as (
    select * from {{ ref('fct_orders') }}
),

fct_customer_value as (
    select * from {{ ref('fct_customer_value') }}
),

person_sources as (
    select
        cast(coalesce(sum(raw_rows), 0) as bigint) as raw_rows,
        cast(coalesce(sum(staged_rows), 0) as bigint) as staged_rows,
        cast(coalesce(sum(quarantined_rows), 0) as bigint) as quarantined_rows
    from reconciliation
    where source_table in ('crm_contacts', 'shop_customers', 'shop_orders', 'esp_subscribers')
),

persons as (
    select
        count(*) as persons,
        min(first_seen_at) as first_seen_at,
        count(first_seen_at) as persons_with_first_seen_at
    from dim_customers
),

features as (
    select count(*) as feature_rows from int_customers__features
),

scores as (
    select count(distinct person_id) as scored_persons from fct_propensity_scores
),

champions as (
    select count(*) as champion_models
    from dim_model_versions
    where is_champion
),

buyers as (
    select count(distinct person_id) as buyers
    from fct_orders
    where
        is_completed
        and person_id is not null
        and known_at < {{ mailroom.as_of_timestamp() }}
),

valued as (
    select count(*) as valued_persons from fct_customer_value
),

checks as (
    select
        1 as guard_order,
        'persons' as guard_name,
        person_sources.raw_rows as input_rows,
        persons.persons as output_rows,
        'raw orders, contacts, accounts and subscribers: '
        || cast(person_sources.raw_rows as varchar) || ' rows, '
        || cast(person_sources.staged_rows as varchar) || ' staged, '
        || cast(person_sources.quarantined_rows as varchar)
        || ' quarantined (see the stg_*__quarantined_rows models), yet no person was resolved'
            as reason
    from person_sources
    cross join persons

    union all

    select
        2 as guard_order,
        'feature population' as guard_name,
        persons.persons as input_rows,
        features.feature_rows as output_rows,
        cast(persons.persons as varchar) || ' persons, none known by the as-of date '
        || cast({{ mailroom.as_of_date() }} as varchar) || ': '
        || case
            when persons.persons_with_first_seen_at = 0
                then 'no person has a first_seen_at (no creation, order or event time)'
            else
                'the earliest first_seen_at is '
                || cast(cast(persons.first_seen_at as date) as varchar)
                || ' (set the as-of date with `mailroom build --as-of`)'
        end as reason
    from persons
    cross join features

    union all

    select
        3 as guard_order,
        'scores' as guard_name,
        features.feature_rows as input_rows,
        scores.scored_persons as output_rows,
        cast(features.feature_rows as varchar) || ' persons have features, none was scored: '
        || cast(champions.champion_models as varchar) || ' propensity models have a champion'
        || ' (a model trains only when its training examples hold both outcomes;'
        || ' see int_propensity__training_set and dim_model_versions)' as reason
    from features
    cross join scores
    cross join champions

    union all

    select
        4 as guard_order,
        'customer value' as guard_name,
        buyers.buyers as input_rows,
        valued.valued_persons as output_rows,
        cast(buyers.buyers as varchar) || ' persons bought before the as-of date,'
        || ' none has a customer value (fct_customer_value)' as reason
    from buyers
    cross join valued
),

final as (
    select
        -- ids
        guard_name,

        -- numbers
        guard_order,
        input_rows,
        output_rows,

        -- strings
        case
            when input_rows = 0 then 'not_applicable'
            when output_rows = 0 then 'fail'
            else 'ok'
        end as status,
        case when input_rows > 0 and output_rows = 0 then reason end as reason
    from checks
)

select * from final
