"""The profile API: serving snapshots of the marts, the HTTP app, and its load test.

- `mailroom.serve.snapshot`: `publish_snapshot` (`mailroom snapshot`) copies the
  marts the API needs into a read-only SQLite file under `data/serving/` and
  repoints `CURRENT` atomically;
- `mailroom.serve.app`: the FastAPI app (`mailroom serve`), reading only the
  current snapshot and switching to a new one between requests;
- `mailroom.serve.auth`, `keys`, `cursor`: API keys, profile keys, audience cursors;
- `mailroom.serve.loadtest`: `run_load_test` (`mailroom load-test`).
"""
