{#- One row per (blocking rule, comparison pattern) with its pair count:
    what the EM step learns m probabilities from, one session per blocking
    rule. The comparisons a rule blocks on agree in all its pairs by
    construction, so that session must not learn them (held_out_comparisons). -#}
{%- set rules = mailroom.identity_blocking_rules() -%}
{%- set comparisons_of = {
    'first_name_key': ['first_name'], 'last_name_key': ['last_name'],
    'name_pair_key': ['first_name', 'last_name'], 'birth_date': ['birth_date'],
    'street_name_key': ['address'], 'street_number': ['address'], 'postcode_key': ['address'],
    'city_key': ['address'], 'email_local_key': ['email_local'], 'phone_suffix': ['phone'],
} -%}
with

candidate_pairs as (
    select * from {{ ref('int_identity__candidate_pairs') }}
),

final as (
    {%- for rule in rules %}
        {%- set held_out = [] %}
        {%- for column in rule.columns if column in comparisons_of %}{% for comparison in comparisons_of[column] if comparison not in held_out %}{% do held_out.append(comparison) %}{% endfor %}{% endfor %}
        select
            {{ loop.index }} as blocking_rule,
            '{{ held_out | join(",") }}' as held_out_comparisons,
            pattern_key,
            {%- for name in mailroom.identity_comparison_names() %}
                gamma_{{ name }},
            {%- endfor %}
            count(*) as pair_count
        from candidate_pairs
        where is_in_block_{{ loop.index }}
        group by {% for i in range(mailroom.identity_comparison_names() | length + 3) %}{{ i + 1 }}{% if not loop.last %}, {% endif %}{% endfor %}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from final
