{#- One row per identifier that names exactly one person in the last identity
    resolution: a shop account (customer_id), a web device (anonymous_id) or
    an e-mail (its match key). The trigger lane maps the rows landed between
    two routine builds through it (int_trigger__signals); an identifier that
    two persons share maps nobody. Erased persons are here, as in the rest of
    the resolution layer, so that their landed rows are recognized and dropped. -#}
with

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

records as (
    select * from {{ ref('int_identity__records') }}
),

identifiers as (
    select
        'customer_id' as identifier_type,
        source_record_id as identifier_value,
        person_id
    from clusters
    where source_table = 'shop_customers'

    union all

    select
        'anonymous_id' as identifier_type,
        source_record_id as identifier_value,
        person_id
    from clusters
    where source_table = 'web_events'

    union all

    select
        'email' as identifier_type,
        records.email_match_key as identifier_value,
        clusters.person_id
    from records
    inner join clusters
        on records.node_id = clusters.node_id
    where records.email_match_key is not null
),

final as (
    select
        -- ids
        identifier_type,
        identifier_value,
        min(person_id) as person_id
    from identifiers
    group by 1, 2
    having count(distinct person_id) = 1
)

select * from final
