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

{#- A feature's name in words, for people reading score reasons (kept with the
    feature catalog, int_customers__feature_catalog). Windowed measures read
    "<measure> in the last N days"; an unknown name reads with spaces. -#}
{% macro customer_feature_label(name) -%}
    {%- set labels = {
        'tenure_days': 'days since first seen',
        'orders_lifetime': 'orders, all time',
        'revenue_lifetime': 'revenue, all time',
        'discount_lifetime': 'discounts, all time',
        'items_lifetime': 'items bought, all time',
        'avg_order_value': 'average order value',
        'discount_share': 'share of spend discounted',
        'days_since_first_order': 'days since the first order',
        'days_since_last_order': 'days since the last order',
        'days_since_last_visit': 'days since the last visit',
        'days_since_last_open': 'days since the last e-mail opened',
        'days_since_last_click': 'days since the last e-mail click',
        'days_since_last_active': 'days since last active',
        'days_since_subscribed': 'days since subscribing',
        'hours_since_last_cart_add': 'hours since the last cart addition',
        'ordered_since_last_cart_add': 'ordered since the last cart addition',
        'product_views_lifetime': 'product views, all time',
        'cart_adds_lifetime': 'cart additions, all time',
        'visits_lifetime': 'visits, all time',
        'email_deliveries_lifetime': 'e-mails received, all time',
        'email_opens_lifetime': 'e-mails opened, all time',
        'email_clicks_lifetime': 'e-mail clicks, all time',
        'open_rate_lifetime': 'e-mail open rate, all time',
        'click_rate_lifetime': 'e-mail click rate, all time',
        'orders_per_year': 'orders per year',
        'visits_per_year': 'visits per year',
        'product_views_per_year': 'product views per year',
        'email_opens_per_year': 'e-mails opened per year',
        'recency_score': 'recency score (RFM)',
        'frequency_score': 'frequency score (RFM)',
        'monetary_score': 'spend score (RFM)',
        'rfm_score': 'RFM score',
    } -%}
    {%- set measures = {
        'orders': 'orders', 'revenue': 'revenue', 'product_views': 'product views',
        'cart_adds': 'cart additions', 'visits': 'visits', 'email_deliveries': 'e-mails received',
        'email_opens': 'e-mails opened', 'email_clicks': 'e-mail clicks',
        'open_rate': 'e-mail open rate', 'click_rate': 'e-mail click rate',
    } -%}
    {%- if name in labels -%}
        {{ return(labels[name]) }}
    {%- endif -%}
    {%- for window in var('customer_feature_windows_days') -%}
        {%- for measure in mailroom.customer_windowed_measures() -%}
            {%- if name == measure ~ '_' ~ window ~ 'd' -%}
                {{ return(measures.get(measure, measure | replace('_', ' ')) ~ ' in the last ' ~ window ~ ' days') }}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(name | replace('_', ' ')) }}
{%- endmacro %}
