{#- The comparisons of the probabilistic step (Fellegi-Sunter). Each yields
    a level per record pair: -1 when either side is missing (no evidence
    either way), 0 when the values disagree, and 1 or 2 for partial and full
    agreement. m and u probabilities are estimated per level
    (int_identity__match_parameters). -#}
{% macro identity_comparison_names() -%}
    {{ return(['first_name', 'last_name', 'birth_date', 'street', 'postcode', 'email_local', 'phone']) }}
{%- endmacro %}
