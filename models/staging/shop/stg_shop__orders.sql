with

base as (
    select * from {{ ref('base_shop__orders') }}
),

loads as (
    -- the table's first load is history (macro is_history_load)
    select
        *,
        min(_loaded_at) over () as first_loaded_at
    from base
),

final as (
    select
        -- ids
        order_id,
        customer_id,

        -- contact given at checkout
        email,
        email_match_key,
        email_raw_normalized is not null and email is null as has_invalid_email,
        phone_e164,
        shipping_first_name,
        shipping_last_name,
        shipping_street,
        shipping_address_line_2,
        shipping_postcode,
        shipping_city,
        shipping_region,
        shipping_country_code,

        -- order
        status,
        customer_id is null as is_guest_checkout,
        currency,
        total_amount,
        coalesce(discount_amount, 0) as discount_amount,
        item_count,
        total_amount_reporting,
        discount_amount_reporting,

        -- booleans
        {{ mailroom.is_history_load('_loaded_at', 'first_loaded_at') }} as is_history_load,

        -- timestamps
        ordered_at,
        updated_at,
        _loaded_at
    from loads
    where quarantine_reason is null and version_rank = 1
)

select * from final
