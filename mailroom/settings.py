"""Project settings: `mailroom.yml` beside the dbt project (or $MAILROOM_SETTINGS).

What a team wants every build to use without typing it, the same keys as the
command line's `mailroom build --as-of DATE --var KEY=VALUE`::

    as_of_date: 2025-12-31        # the day builds stand on (default: the data's own, else today)
    vars:                         # any dbt var of dbt_project.yml
      purchase_horizon_days: 90
      history_loaded_until: "2026-03-01 00:00:00"

Precedence, lowest first: the warehouse's own as-of date (`mailroom load
--as-of`, a sample world), this file, the command line.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import yaml

from mailroom import PROJECT_DIR

SETTINGS_VAR = "MAILROOM_SETTINGS"
KEYS = {"as_of_date", "vars"}


class SettingsError(ValueError):
    """The settings file cannot be used (the message says why)."""


def settings_path() -> Path:
    return Path(os.environ.get(SETTINGS_VAR) or PROJECT_DIR / "mailroom.yml")


def as_var(value: object) -> object:
    """A value as dbt vars carry it (JSON): dates as ISO text."""
    return value.isoformat() if isinstance(value, dt.date) else value


def settings_vars(path: Path | None = None) -> dict[str, object]:
    """The dbt vars the settings file sets ({} when there is none)."""
    path = path or settings_path()
    if not path.exists():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"{path} must be a mapping of {sorted(KEYS)}")
    unknown = set(doc) - KEYS
    if unknown:
        raise SettingsError(f"{path}: unknown keys {sorted(unknown)} (known: {sorted(KEYS)})")
    variables = doc.get("vars") or {}
    if not isinstance(variables, dict):
        raise SettingsError(f"{path}: `vars` must be a mapping of dbt var names to values")
    out = {str(k): as_var(v) for k, v in variables.items()}
    if doc.get("as_of_date") is not None:
        out["as_of_date"] = as_var(doc["as_of_date"])
    return out
