{#- The keys an incremental run of a base model re-computes: a subquery of
    `batch_key` values, for `where incremental_batch_key(key) in (...)` on
    the source.

    - Every key with a raw row loaded since the newest load the table has
      seen, minus var('incremental_lookback_hours') (in a trigger batch,
      var('trigger_lookback_minutes'): the next routine build re-reads the hours). Loaders (Fivetran,
      Airbyte) commit in parallel batches, so a row can land with a
      _loaded_at a little older than rows already processed; the lookback
      re-reads those hours. Events that happened long ago but arrive late
      need no lookback: batches follow the load time, not the event time.
      Rows without _loaded_at are re-read on every run rather than lost. Rows
      stamped in the future (a skewed loader clock) do not count towards the
      newest load, so they cannot move the watermark past rows still to come;
      they are re-read until their time has come.
    - All versions or deliveries of such a key are re-computed together, so
      de-duplication and "the latest version decides" give what a full
      refresh gives (delete+insert by batch key is idempotent).
    - Keys whose verdict depends on the as-of date: rows quarantined as
      future_timestamp are checked again once the future limit has moved on,
      and every row is checked again when it has moved back (a backfill).
-#}
{% macro incremental_batch_keys(relation, key) -%}
    {#- a trigger batch re-reads minutes, not days: the next routine build re-reads the days -#}
    {%- set lookback_minutes = var('trigger_lookback_minutes') if mailroom.is_trigger_batch() else 60 * var('incremental_lookback_hours') -%}
    select {{ mailroom.incremental_batch_key(key) }} as batch_key
    from {{ relation }}
    where
        _loaded_at is null
        or _loaded_at > (
            select {{ dbt.dateadd('minute', -1 * lookback_minutes, "coalesce(max(case when _loaded_at <= " ~ mailroom.utc_now() ~ " then _loaded_at end), cast('1900-01-01' as " ~ dbt.type_timestamp() ~ "))") }}
            from {{ this }}
        )
    union
    select _batch_key as batch_key
    from {{ this }}
    where
        _checked_future_limit > {{ mailroom.future_limit() }}
        or (quarantine_reason = 'future_timestamp' and _checked_future_limit < {{ mailroom.future_limit() }})
{%- endmacro %}
