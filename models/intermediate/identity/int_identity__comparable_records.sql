{#- One row per record the probabilistic step can compare: records with a
    name, with refused identifiers already blanked (int_identity__screened_records),
    and the keys the blocking rules (var identity_blocking_rules) read. -#}
with

screened_records as (
    select * from {{ ref('int_identity__screened_records') }}
),

final as (
    select
        node_id,
        node_label,
        first_name_key,
        last_name_key,
        -- both names in alphabetical order: one key for a pair with the same
        -- names, in their places or swapped (a blocking key)
        case
            when first_name_key is not null and last_name_key is not null
                then least(first_name_key, last_name_key) || '|' || greatest(first_name_key, last_name_key)
        end as name_pair_key,
        birth_date,
        street_number,
        street_name_key,
        city_key,
        postcode_key,
        email_local_key,
        phone_suffix
    from screened_records
    where first_name_key is not null or last_name_key is not null
)

select * from final
