{#- One row per distinct identifier: how many records and distinct names
    carry it, and why it may not be used to link (null when it may).
    Guardrails, in order: the blocklist seed of placeholders; more account
    records (CRM contacts, shop accounts, subscribers) than
    var identity_max_records_per_identifier; more distinct names than
    var identity_max_names_per_identifier. For the types listed in
    var identity_gift_tolerant_identifiers (e-mail: a buyer types their own
    address on a gift) guest orders' shipping names are held to a limit of
    their own, var identity_max_shipping_names_per_identifier; for the rest
    (phone: the shipping contact's number) every name counts. -#}
{%- set max_records = var('identity_max_records_per_identifier') -%}
{%- set max_names = var('identity_max_names_per_identifier') -%}
{%- set gift_tolerant = var('identity_gift_tolerant_identifiers') -%}
with

record_identifiers as (
    select * from {{ ref('int_identity__record_identifiers') }}
),

records as (
    select * from {{ ref('int_identity__records') }}
),

identity_blocklist as (
    select * from {{ ref('identity_blocklist') }}
),

usage as (
    select
        record_identifiers.identifier_type,
        record_identifiers.identifier_value,
        count(*) as record_count,
        -- guest orders and devices are many per person: only accounts count towards the limit
        sum(case when records.source_table in ('shop_orders', 'web_events') then 0 else 1 end) as account_record_count,
        count(distinct records.first_name_key || ' ' || records.last_name_key) as distinct_names,
        count(distinct case
            when records.source_table != 'shop_orders'
                then records.first_name_key || ' ' || records.last_name_key
        end) as distinct_account_names,
        -- orders are shipped to other people too (gifts): their names have a limit of their own
        count(distinct case
            when records.source_table = 'shop_orders'
                then records.first_name_key || ' ' || records.last_name_key
        end) as distinct_shipping_names
    from record_identifiers
    inner join records
        on record_identifiers.node_id = records.node_id
    where not record_identifiers.is_shared_device
    group by 1, 2
),

{#- Regular expressions are read from the seed when the model runs and
    written in as literals: a pattern taken from a column is compiled again
    for every row, which at a million people costs minutes. (The seed exists
    whenever this model runs; only a compile-only tool finds it missing.) -#}
{%- set regex_rules = [] -%}
{%- set blocklist_relation = load_relation(ref('identity_blocklist')) if execute else none -%}
{%- if blocklist_relation is not none -%}
    {%- set rows = run_query(
        "select identifier_type, pattern, description from " ~ ref('identity_blocklist') ~ " where match_type = 'regex' order by 1, 2"
    ) -%}
    {%- for row in rows -%}{% do regex_rules.append(row) %}{%- endfor -%}
{%- endif %}

exact_blocklisted as (
    select
        usage.identifier_type,
        usage.identifier_value,
        min(identity_blocklist.description) as blocklist_description
    from usage
    inner join identity_blocklist
        on
            identity_blocklist.identifier_type in (usage.identifier_type, 'any')
            and lower(usage.identifier_value) = identity_blocklist.pattern
    where identity_blocklist.match_type = 'exact'
    group by 1, 2
),

regex_blocklisted as (
    select
        identifier_type,
        identifier_value,
        {% if regex_rules -%}
            case
                {%- for identifier_type, pattern, description in regex_rules %}
                    when
                        '{{ identifier_type }}' in (identifier_type, 'any')
                        and {{ mailroom.regex_matches('lower(identifier_value)', pattern) }}
                        then '{{ description | replace("'", "''") }}'
                {%- endfor %}
            end
        {%- else -%}
            cast(null as varchar)
        {%- endif %} as blocklist_description
    from usage
),

blocklisted as (
    select * from exact_blocklisted
    union all
    select * from regex_blocklisted
    where blocklist_description is not null
),

final as (
    select
        usage.identifier_type,
        usage.identifier_value,
        usage.record_count,
        usage.account_record_count,
        usage.distinct_names,
        usage.distinct_account_names,
        usage.distinct_shipping_names,
        blocklisted.blocklist_description,
        case
            when blocklisted.identifier_value is not null then 'blocklisted'
            {%- for identifier_type, limit in max_records.items() %}
                when usage.identifier_type = '{{ identifier_type }}' and usage.account_record_count > {{ limit }}
                    then 'over_shared'
            {%- endfor %}
            {%- for identifier_type, limit in max_names.items() %}
                {%- if identifier_type in gift_tolerant %}
                    when
                        usage.identifier_type = '{{ identifier_type }}'
                        and (
                            usage.distinct_account_names > {{ limit }}
                            or usage.distinct_shipping_names > {{ var('identity_max_shipping_names_per_identifier') }}
                        )
                        then 'conflicting_names'
                {%- else %}
                    when usage.identifier_type = '{{ identifier_type }}' and usage.distinct_names > {{ limit }}
                        then 'conflicting_names'
                {%- endif %}
            {%- endfor %}
        end as refusal_reason
    from usage
    left join (
        select
            identifier_type,
            identifier_value,
            min(blocklist_description) as blocklist_description
        from blocklisted
        group by 1, 2
    ) as blocklisted
        on
            usage.identifier_type = blocklisted.identifier_type
            and usage.identifier_value = blocklisted.identifier_value
)

select * from final
