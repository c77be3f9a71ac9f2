{#- The surviving value of one attribute per person (a CTE body): among the
    person's records whose source the survivorship seed lists for the
    attribute, complete values first (every column present), then the best
    source priority, then the most recently updated record. The columns of
    one attribute always come from one record (a first name is never paired
    with another record's last name). `carried` columns come from the same
    record but do not decide which record wins (an address's second line). -#}
{% macro golden_attribute(attribute, columns, relation='person_records', carried=[]) -%}
    select
        {{ relation }}.person_id,
        {%- for column in columns + carried %}
        {{ relation }}.{{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ relation }}
    inner join identity_survivorship
        on
            identity_survivorship.attribute = '{{ attribute }}'
            and {{ relation }}.source_table = identity_survivorship.source_table
    where {% for column in columns %}{{ relation }}.{{ column }} is not null{% if not loop.last %} or {% endif %}{% endfor %}
    qualify row_number() over (
        partition by {{ relation }}.person_id
        order by
            case when {% for column in columns %}{{ relation }}.{{ column }} is not null{% if not loop.last %} and {% endif %}{% endfor %} then 0 else 1 end,
            identity_survivorship.priority,
            {{ relation }}.updated_at desc nulls last,
            {{ relation }}.node_id
    ) = 1
{%- endmacro %}
