{#- One row per (record, identifier) whose identifier was refused by a
    guardrail: the links it would have made were not made. Nothing is refused
    silently; rpt_identity_quality counts these by reason. -#}
with

record_identifiers as (
    select * from {{ ref('int_identity__record_identifiers') }}
),

identifier_checks as (
    select * from {{ ref('int_identity__identifier_checks') }}
),

final as (
    select
        record_identifiers.node_id,
        record_identifiers.identifier_type,
        record_identifiers.identifier_value,
        case
            when record_identifiers.is_shared_device then 'shared_device'
            else identifier_checks.refusal_reason
        end as refusal_reason,
        identifier_checks.record_count,
        identifier_checks.distinct_names,
        -- links this record would have made: one to each other record with the value
        case
            -- the checks count no shared device: every record they count was refused
            when record_identifiers.is_shared_device then coalesce(identifier_checks.record_count, 0)
            else identifier_checks.record_count - 1
        end as refused_link_count
    from record_identifiers
    -- a shared device's identifiers are left out of the checks: left join
    left join identifier_checks
        on
            record_identifiers.identifier_type = identifier_checks.identifier_type
            and record_identifiers.identifier_value = identifier_checks.identifier_value
    where identifier_checks.refusal_reason is not null or record_identifiers.is_shared_device
)

select * from final
