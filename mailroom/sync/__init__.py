"""`mailroom sync`: a safe, incremental reverse-ETL sync of the sync marts to the ESP.

What it reads (schema `marts` of the DuckDB warehouse, `$WAREHOUSE_PATH`):

- `sync_esp__profiles`: one row per contactable address (key `email`). `email`,
  `person_id` (the ESP's external id), `first_name`, `last_name`,
  `phone_number`, `country_code` are identity fields; every other column,
  including columns added later, is sent as a custom property; `segments`,
  `recommended_products`, `audiences` are JSON text sent as arrays;
  timestamps are sent as ISO-8601 UTC strings.
- `sync_esp__audience_memberships`: one row per (audience_key, email).
- `sync_esp__deletions`: one row per erased person: sent as permanent deletions.

What it writes: schema `sync_state` of the same file (`records`, `runs`,
`audit`: see `mailroom.sync.state`), with key hashes (sha256) only: no
address, name or response body is ever stored, logged or printed.

How it decides (see `mailroom.sync.engine`): new key -> create; changed
payload hash -> update; acknowledged key gone from the mart -> remove (the
person is no longer contactable); deletions row -> erasure, once. State is
committed after every acknowledged batch. Removals above `--max-delete-share`
(default 0.2) of the keys the destination holds refuse the run; erasures are
legally required and are never blocked by that guard.

Destinations (`--destination`):

- `klaviyo` (`mailroom.sync.klaviyo`): bulk profile import jobs, suppression
  for removals, data-privacy deletion jobs; audiences as the `audiences` property.
- `mailchimp` (`mailroom.sync.mailchimp`): member upserts (10 in flight), tags
  for audiences, archive for removals, delete-permanent for erasures.
- `file` (`mailroom.sync.files`): one CSV or JSONL file per stream and run,
  changed rows only, with an `operation` column, written atomically.

Configuration, lowest to highest precedence: defaults; `sync.yml` in the
project root (or `--config PATH`, or `$MAILROOM_SYNC_CONFIG`; optional);
environment variables; command-line options. API keys are read from the
environment only.

Environment variables:

    WAREHOUSE_PATH               DuckDB file (default data/warehouse.duckdb)
    KLAVIYO_API_KEY              Klaviyo private API key
    MAILROOM_KLAVIYO_BASE_URL    default https://a.klaviyo.com
    MAILROOM_KLAVIYO_LIST_ID     optional: also add imported profiles to this list
    MAILCHIMP_API_KEY            Mailchimp API key (its `-us6` suffix names the data centre)
    MAILCHIMP_LIST_ID            Mailchimp audience (list) id
    MAILROOM_MAILCHIMP_BASE_URL  default https://<dc>.api.mailchimp.com
    MAILROOM_SYNC_CONFIG         path of the sync.yml to read

`sync.yml` (every key optional; shown with its default):

    max_delete_share: 0.2
    removal_lookup: marts.dim_customers.email  # where a removal finds its address
    read_batch_rows: 5000
    http:
      timeout_seconds: 30
      max_attempts: 6             # per request, for 500/502/503/504 and timeouts
      max_rate_limited: 30        # 429 answers tolerated per request
      base_delay_seconds: 0.5     # backoff base * 2**n, equal jitter (half fixed, half random)
      max_delay_seconds: 30
      max_retry_after_seconds: 120  # a 429 pauses every request of the client; a longer
                                    # Retry-After fails the request (retried next run)
    klaviyo:
      revision: "2024-10-15"
      list_id: null
      batch_size: 10000           # profiles per import job (at most 10,000)
      max_batch_bytes: 5000000    # request body (Klaviyo: 5 MB)
      max_profile_bytes: 100000
      suppression_batch_size: 100
      poll_interval_seconds: 1
      poll_timeout_seconds: 900
    mailchimp:
      list_id: null
      concurrency: 10             # requests in flight (at most 10)
      batch_size: 500             # members per committed batch
      merge_fields: {}            # column: MERGETAG overrides
    file:
      format: csv                 # or jsonl
      output_dir: data/sync

Exit codes: 0 done (invalid rows are reported, not retried until they
change); 1 some operations failed (retried next run) or the destination
refused the key; 3 refused by the mass-delete guard (a dry run exits 3 when
the guard would refuse). A run stopped by Ctrl-C is recorded `interrupted`,
one killed outright `abandoned` (by the next run); either way the next run
sends only what was not committed.
"""

from mailroom.sync.config import ConfigError, SyncConfig, load_config
from mailroom.sync.engine import SyncReport, run_sync

__all__ = ["ConfigError", "SyncConfig", "SyncReport", "load_config", "run_sync"]
