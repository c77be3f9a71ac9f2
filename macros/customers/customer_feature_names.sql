{#- The numeric point-in-time features, in column order: what segment rules and
    models may use. Windowed measures come once per var('customer_feature_windows_days'). -#}

{% macro customer_feature_names() -%}
    {%- set names = [
        'tenure_days', 'orders_lifetime', 'revenue_lifetime', 'discount_lifetime', 'items_lifetime',
        'avg_order_value', 'discount_share',
        'days_since_first_order', 'days_since_last_order', 'days_since_last_visit',
        'days_since_last_open', 'days_since_last_click', 'days_since_last_active',
        'days_since_subscribed', 'hours_since_last_cart_add', 'ordered_since_last_cart_add',
        'product_views_lifetime', 'cart_adds_lifetime', 'visits_lifetime', 'email_deliveries_lifetime',
        'email_opens_lifetime', 'email_clicks_lifetime', 'open_rate_lifetime', 'click_rate_lifetime',
        'orders_per_year', 'visits_per_year', 'product_views_per_year', 'email_opens_per_year',
    ] -%}
    {%- for window in var('customer_feature_windows_days') -%}
        {%- for measure in mailroom.customer_windowed_measures() -%}
            {%- do names.append(measure ~ '_' ~ window ~ 'd') -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- do names.extend(['recency_score', 'frequency_score', 'monetary_score', 'rfm_score']) -%}
    {{ return(names) }}
{%- endmacro %}
