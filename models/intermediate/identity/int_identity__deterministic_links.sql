{#- One row per link made by a shared, usable identifier. Records sharing an
    identifier are linked to the identifier's first record (by node label), a
    star rather than every pair: the same components with n - 1 links
    instead of n(n - 1) / 2. -#}
with

record_identifiers as (
    select * from {{ ref('int_identity__record_identifiers') }}
),

identifier_checks as (
    select * from {{ ref('int_identity__identifier_checks') }}
),

records as (
    select * from {{ ref('int_identity__records') }}
),

usable as (
    select
        record_identifiers.node_id,
        records.node_label,
        record_identifiers.identifier_type,
        record_identifiers.identifier_value
    from record_identifiers
    inner join identifier_checks
        on
            record_identifiers.identifier_type = identifier_checks.identifier_type
            and record_identifiers.identifier_value = identifier_checks.identifier_value
    inner join records
        on record_identifiers.node_id = records.node_id
    where
        identifier_checks.refusal_reason is null
        and identifier_checks.record_count > 1
        and not record_identifiers.is_shared_device
),

anchored as (
    select
        node_id,
        identifier_type,
        identifier_value,
        first_value(node_id) over (
            partition by identifier_type, identifier_value order by node_label
        ) as anchor_node_id
    from usable
),

final as (
    select
        anchor_node_id as node_id,
        node_id as linked_node_id,
        identifier_type as link_rule,
        identifier_value,
        1.0 as match_probability
    from anchored
    where node_id != anchor_node_id
)

select * from final
