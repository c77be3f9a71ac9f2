{#- The windowed measures of the customer features: <measure>_<days>d. -#}
{% macro customer_windowed_measures() -%}
    {{ return(['orders', 'revenue', 'product_views', 'cart_adds', 'visits', 'email_deliveries', 'email_opens', 'email_clicks', 'open_rate', 'click_rate']) }}
{%- endmacro %}
