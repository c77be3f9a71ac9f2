{#- Fails for every row where `expression` is not true (optionally only where
    `where_clause`). On a column, the expression names the column itself. -#}
{% test expression_is_true(model, expression, where_clause=none, column_name=none) %}

select *
from {{ model }}
where not ({{ expression }})
{%- if where_clause %} and ({{ where_clause }}){% endif %}

{% endtest %}
