{#- The raw tables of the contract, each as [source name, table, model suffix]
    (`crm_contacts` of source `crm` is staged by base_crm__contacts and
    stg_crm__contacts). The one list the reconciliation models read; a test
    checks it against the sources YAML (tests/python/test_structure.py). -#}
{% macro raw_tables() -%}
    {%- set tables = [] -%}
    {%- for source_name, table in [
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
        {%- do tables.append([source_name, table, source_name ~ '__' ~ table[source_name | length + 1:]]) -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}
