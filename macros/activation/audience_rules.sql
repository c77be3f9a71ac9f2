{#- Who of an audience's members is sent: the one rule behind
    fct_audience_memberships (routine audiences) and
    fct_trigger_audience_memberships (trigger audiences). A member whose
    holdout bucket (macro hash_bucket of audience and person) is below
    holdout_percent x 100 is in the control group; any other member is sent
    unless not contactable or at the frequency cap. -#}
{% macro audience_is_holdout(holdout_bucket, holdout_percent) -%}
    {{ holdout_bucket }} < {{ holdout_percent }} * 100
{%- endmacro %}

{% macro audience_exclusion_reason(holdout_bucket, holdout_percent, is_contactable, is_capped) -%}
    case
        when {{ mailroom.audience_is_holdout(holdout_bucket, holdout_percent) }} then 'holdout'
        when not {{ is_contactable }} then 'not_contactable'
        when {{ is_capped }} then 'frequency_capped'
    end
{%- endmacro %}

{% macro audience_is_sendable(holdout_bucket, holdout_percent, is_contactable, is_capped) -%}
    not {{ mailroom.audience_is_holdout(holdout_bucket, holdout_percent) }}
    and {{ is_contactable }}
    and not {{ is_capped }}
{%- endmacro %}
