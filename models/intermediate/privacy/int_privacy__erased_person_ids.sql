{#- Every person_id an erased person has, or may have had in an earlier
    build: a person_id is the hash of its cluster's first node label, so when
    records joined the cluster later its id was the hash of another of its
    records' labels. Tables that keep history across builds purge all of
    them (macro purge_erased). -#}
with

erased_persons as (
    select * from {{ ref('int_privacy__erased_persons') }}
),

clusters as (
    select * from {{ ref('int_identity__clusters') }}
),

records as (
    select * from {{ ref('int_identity__records') }}
),

final as (
    select distinct
        -- ids
        {{ dbt.hash('records.node_label') }} as person_id,
        clusters.person_id as current_person_id
    from clusters
    inner join erased_persons
        on clusters.person_id = erased_persons.person_id
    inner join records
        on clusters.node_id = records.node_id
)

select * from final
