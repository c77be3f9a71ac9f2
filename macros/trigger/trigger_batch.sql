{#- Whether this dbt invocation is a trigger batch: `mailroom trigger` sets
    the environment variable MAILROOM_TRIGGER_BATCH=true for its build. An
    environment variable and not a dbt var: dbt re-parses only the files that
    read a changed environment variable, but the whole project when a var
    changes (5 to 10 s on every switch between a routine build and a batch). -#}
{% macro is_trigger_batch() -%}
    {{ return(env_var('MAILROOM_TRIGGER_BATCH', 'false') | lower == 'true') }}
{%- endmacro %}

{#- One of the trigger lane's batch parameters (a timestamp column of
    trigger_state.batches), as a literal. `mailroom trigger` writes one row
    with status 'running' before it runs the trigger selector and closes it
    afterwards; a file lock keeps two batches from running at once. Passed
    as a row, not as dbt vars or environment variables: values that change
    every batch would make dbt parse again. Read when the model is compiled
    (run_query), so that the SQL holds a constant: a filter on `_loaded_at`
    against a constant skips the row groups loaded earlier (DuckDB's zone
    maps, Snowflake's pruning), where a subquery reads the whole history. -#}
{% macro trigger_batch_value(column) -%}
    {%- if not execute -%}
        {{ return("cast(null as " ~ dbt.type_timestamp() ~ ")") }}
    {%- endif -%}
    {%- set found = run_query(
        "select cast(" ~ column ~ " as " ~ dbt.type_string() ~ ") from trigger_state.batches where status = 'running'"
    ) -%}
    {%- if found.rows | length != 1 -%}
        {{ exceptions.raise_compiler_error(
            "trigger_state.batches has " ~ (found.rows | length) ~ " running batches, not one: "
            ~ "a trigger batch is run by `mailroom trigger`"
        ) }}
    {%- endif -%}
    {%- set value = found.rows[0][0] -%}
    {%- if value is none -%}
        {{ return("cast(null as " ~ dbt.type_timestamp() ~ ")") }}
    {%- endif -%}
    {{ return("cast('" ~ value ~ "' as " ~ dbt.type_timestamp() ~ ")") }}
{%- endmacro %}

{#- A predicate on a load timestamp: in a trigger batch, the rows landed in its
    window (loaded_after, loaded_until]; in every other build, all rows. -#}
{% macro trigger_window(loaded_at_column) -%}
    {%- if mailroom.is_trigger_batch() -%}
        {{ loaded_at_column }} > {{ mailroom.trigger_batch_value('loaded_after') }}
        and {{ loaded_at_column }} <= {{ mailroom.trigger_batch_value('loaded_until') }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The moment trigger audiences are evaluated at: the batch's `now` in a
    trigger batch, the build's as-of moment (macro as_of_timestamp) otherwise. -#}
{% macro trigger_now() -%}
    {%- if mailroom.is_trigger_batch() -%}
        {{ mailroom.trigger_batch_value('batch_now') }}
    {%- else -%}
        {{ mailroom.as_of_timestamp() }}
    {%- endif -%}
{%- endmacro %}

{#- A predicate on a person id: in a trigger batch, the persons it touches
    (int_trigger__touched_persons); in every other build, everyone. -#}
{% macro trigger_touched(person_id_column) -%}
    {%- if mailroom.is_trigger_batch() -%}
        {{ person_id_column }} in (select person_id from {{ ref('int_trigger__touched_persons') }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of a model kept per person: in a trigger batch, delete the rows of
    the persons the batch touches, which the model's select (filtered with
    trigger_touched) then inserts again, or leaves out when they no longer
    qualify. Nothing in other builds: they rebuild the table. -#}
{% macro trigger_delete_touched() -%}
    {%- if mailroom.is_trigger_batch() and is_incremental() -%}
        delete from {{ this }} where {{ mailroom.trigger_touched('person_id') }}
    {%- endif -%}
{%- endmacro %}

{#- The config of a model the trigger lane keeps per person (rows of the
    touched persons deleted by the pre-hook, then inserted again): call it
    first in the model. -#}
{% macro trigger_person_model_config() -%}
    {{ config(
        materialized=mailroom.trigger_materialized(),
        on_schema_change='append_new_columns',
        incremental_strategy='append',
        pre_hook="{{ mailroom.trigger_delete_touched() }}",
        tags=['trigger'],
    ) }}
{%- endmacro %}

{#- The materialization of a model the trigger lane updates per person:
    incremental (appending the touched persons' rows after trigger_delete_touched)
    in a trigger batch, a table rebuilt in full in every other build. -#}
{% macro trigger_materialized() -%}
    {{ return('incremental' if mailroom.is_trigger_batch() else 'table') }}
{%- endmacro %}

{#- May a person be sent marketing e-mail now, from their trigger state
    (`states`, fct_trigger_person_states) and the last routine build's answer
    (`customers`, dim_customers; null for a person it does not know yet).
    Between two routine builds, a landed suppression (unsubscribe, complaint,
    hard bounce, ESP status) or consent withdrawal takes contactability away
    at once, and a new person is contactable when they gave consent or
    subscribed at the ESP and have an e-mail; everyone else keeps the routine
    build's answer (int_customers__email_contactability), whose rule is the
    same: suppressions always win, the latest consent decides. An erased
    person never is. -#}
{% macro trigger_contactable(states, customers) -%}
    case
        when {{ states }}.erased_at is not null then false
        when {{ states }}.last_suppressed_at is not null then false
        when {{ states }}.consent_status = 'withdrawn' then false
        when {{ customers }}.person_id is not null then {{ customers }}.is_email_contactable
        when {{ states }}.person_id is null then false
        else
            {{ states }}.email is not null
            and ({{ states }}.consent_status = 'granted' or {{ states }}.subscribed_at is not null)
    end
{%- endmacro %}
