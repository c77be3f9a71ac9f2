"""Configuration of `mailroom sync`: defaults < sync.yml < environment < command-line options.

API keys come from the environment only (never from a file that could be committed).
See the package docstring (`mailroom.sync`) for every setting and variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from mailroom import PROJECT_DIR
from mailroom.warehouse import warehouse_path

DESTINATIONS = ("klaviyo", "mailchimp", "file")
FILE_FORMATS = ("csv", "jsonl")
DEFAULT_CONFIG_FILE = "sync.yml"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which (never a secret's value)."""


@dataclass(frozen=True)
class HttpSettings:
    timeout_seconds: float = 30.0
    max_attempts: int = 6  # per request, for 5xx and timeouts
    max_rate_limited: int = 30  # 429 answers tolerated per request (each waits Retry-After)
    base_delay_seconds: float = 0.5  # exponential backoff: base * 2**n, equal jitter
    max_delay_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0  # longer: the request fails (retried next run)


@dataclass(frozen=True)
class KlaviyoSettings:
    api_key: str | None = None
    base_url: str = "https://a.klaviyo.com"
    revision: str = "2024-10-15"
    list_id: str | None = None  # optional: imported profiles are also added to this list
    batch_size: int = 10_000  # profiles per bulk import job (Klaviyo's cap)
    max_batch_bytes: int = 5_000_000  # request body cap (Klaviyo: 5 MB)
    max_profile_bytes: int = 100_000  # one profile's cap (Klaviyo: 100 KB)
    suppression_batch_size: int = 100  # e-mails per suppression job (Klaviyo's cap)
    poll_interval_seconds: float = 1.0
    poll_timeout_seconds: float = 900.0


@dataclass(frozen=True)
class MailchimpSettings:
    api_key: str | None = None
    list_id: str | None = None
    base_url: str | None = None  # default: https://<dc>.api.mailchimp.com from the key's suffix
    concurrency: int = 10  # Mailchimp allows 10 simultaneous connections
    batch_size: int = 500  # members committed to state per batch
    merge_fields: dict[str, str] = field(default_factory=dict)  # column -> merge tag overrides

    def resolved_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        key = self.api_key or ""
        if "-" not in key:
            raise ConfigError(
                "MAILCHIMP_API_KEY has no data-centre suffix (like '-us6'); "
                "set MAILROOM_MAILCHIMP_BASE_URL instead"
            )
        return f"https://{key.rsplit('-', 1)[1]}.api.mailchimp.com"


@dataclass(frozen=True)
class FileSettings:
    format: str = "csv"
    output_dir: Path = Path("data/sync")


@dataclass(frozen=True)
class SyncConfig:
    destination: str = "file"
    warehouse: Path = field(default_factory=warehouse_path)
    marts_schema: str = "marts"
    max_delete_share: float = 0.2
    # Where a removal finds the address of someone no longer in the profiles mart
    # (state keeps only hashes): relation.column, matched by sha256 of normalize_email(address).
    removal_lookup: str = "marts.dim_customers.email"
    read_batch_rows: int = 5_000
    http: HttpSettings = field(default_factory=HttpSettings)
    klaviyo: KlaviyoSettings = field(default_factory=KlaviyoSettings)
    mailchimp: MailchimpSettings = field(default_factory=MailchimpSettings)
    file: FileSettings = field(default_factory=FileSettings)

    def validate(self) -> SyncConfig:
        if self.destination not in DESTINATIONS:
            raise ConfigError(f"destination must be one of {DESTINATIONS}")
        if not 0 <= self.max_delete_share <= 1:
            raise ConfigError("max_delete_share must be between 0 and 1")
        if self.file.format not in FILE_FORMATS:
            raise ConfigError(f"file format must be one of {FILE_FORMATS}")
        if len(self.removal_lookup.split(".")) != 3:
            raise ConfigError("removal_lookup must be schema.relation.column")
        if self.destination == "klaviyo" and not self.klaviyo.api_key:
            raise ConfigError("KLAVIYO_API_KEY is not set")
        if self.destination == "mailchimp":
            if not self.mailchimp.api_key:
                raise ConfigError("MAILCHIMP_API_KEY is not set")
            if not self.mailchimp.list_id:
                raise ConfigError("MAILCHIMP_LIST_ID is not set")
            self.mailchimp.resolved_base_url()
        if not 1 <= self.klaviyo.batch_size <= 10_000:
            raise ConfigError("klaviyo.batch_size must be between 1 and 10000")
        if not 1 <= self.mailchimp.concurrency <= 10:
            raise ConfigError("mailchimp.concurrency must be between 1 and 10")
        return self


def _section(cls: type, values: dict[str, Any] | None, name: str) -> Any:
    values = dict(values or {})
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s) in {name}: {sorted(unknown)}")
    if "api_key" in values:
        raise ConfigError(f"{name}.api_key is read from the environment only, not from a file")
    if "output_dir" in values:
        values["output_dir"] = Path(values["output_dir"])
    return cls(**values)


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else None


def load_config(config_file: Path | None = None, **overrides: Any) -> SyncConfig:
    """Build the configuration: defaults, then `sync.yml`, then the environment, then `overrides`.

    `config_file` defaults to `$MAILROOM_SYNC_CONFIG` or `sync.yml` in the project
    root (optional). `overrides` are top-level fields or dotted section fields
    (`klaviyo.batch_size`); None values are ignored.
    """
    path = config_file or (Path(p) if (p := _env("MAILROOM_SYNC_CONFIG")) else None)
    explicit = path is not None
    path = path or PROJECT_DIR / DEFAULT_CONFIG_FILE
    raw: dict[str, Any] = {}
    if path.exists():
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must hold a mapping")
    elif explicit:
        raise ConfigError(f"config file {path} not found")

    top = {k: v for k, v in raw.items() if k not in ("http", "klaviyo", "mailchimp", "file")}
    known_top = {f.name for f in fields(SyncConfig)} - {"http", "klaviyo", "mailchimp", "file"}
    if set(top) - known_top:
        raise ConfigError(f"unknown setting(s) in {path.name}: {sorted(set(top) - known_top)}")
    if "warehouse" in top:
        top["warehouse"] = Path(top["warehouse"])
    cfg = SyncConfig(
        **top,
        http=_section(HttpSettings, raw.get("http"), "http"),
        klaviyo=_section(KlaviyoSettings, raw.get("klaviyo"), "klaviyo"),
        mailchimp=_section(MailchimpSettings, raw.get("mailchimp"), "mailchimp"),
        file=_section(FileSettings, raw.get("file"), "file"),
    )

    # Environment.
    klaviyo = replace(
        cfg.klaviyo,
        api_key=_env("KLAVIYO_API_KEY"),
        base_url=_env("MAILROOM_KLAVIYO_BASE_URL") or cfg.klaviyo.base_url,
        list_id=_env("MAILROOM_KLAVIYO_LIST_ID") or cfg.klaviyo.list_id,
    )
    mailchimp = replace(
        cfg.mailchimp,
        api_key=_env("MAILCHIMP_API_KEY"),
        list_id=_env("MAILCHIMP_LIST_ID") or cfg.mailchimp.list_id,
        base_url=_env("MAILROOM_MAILCHIMP_BASE_URL") or cfg.mailchimp.base_url,
    )
    cfg = replace(cfg, klaviyo=klaviyo, mailchimp=mailchimp)
    if _env("WAREHOUSE_PATH") or "warehouse" not in top:
        cfg = replace(cfg, warehouse=warehouse_path())

    # Command-line (or test) overrides.
    for key, value in overrides.items():
        if value is None:
            continue
        if "." in key:
            section, name = key.split(".", 1)
            sub = getattr(cfg, section)
            if name == "output_dir":
                value = Path(value)
            cfg = replace(cfg, **{section: replace(sub, **{name: value})})
        else:
            cfg = replace(cfg, **{key: Path(value) if key == "warehouse" else value})
    return cfg.validate()
