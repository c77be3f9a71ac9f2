{#- Rows per raw table, counted straight from the sources, so the reconciliation
    does not trust the base models it checks. -#}
{%- set tables = [
    ['crm', 'crm_contacts'],
    ['shop', 'shop_customers'],
    ['shop', 'shop_orders'],
    ['shop', 'shop_order_items'],
    ['shop', 'shop_products'],
    ['web', 'web_events'],
    ['esp', 'esp_subscribers'],
    ['esp', 'esp_campaigns'],
    ['esp', 'esp_email_events'],
    ['privacy', 'privacy_consent_events'],
    ['privacy', 'privacy_erasure_requests'],
] -%}

with

counted as (
    {% for source_name, table in tables -%}
        select
            '{{ source_name }}' as source_name,
            '{{ table }}' as source_table,
            count(*) as raw_rows
        from {{ source(source_name, table) }}
        {% if not loop.last %}union all
        {% endif %}
    {%- endfor %}
)

select * from counted
