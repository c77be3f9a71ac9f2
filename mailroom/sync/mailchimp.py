"""Mailchimp: list members upserted one request each, 10 in flight; tags for audiences.

Follows the Mailchimp Marketing API 3.0 (Basic auth, any user name, the key as
password; base URL `https://<dc>.api.mailchimp.com` from the key's suffix):

- Profiles: `PUT /3.0/lists/{list_id}/members/{subscriber_hash}` (the hash is
  the MD5 of the lower-cased address) with `email_address`,
  `status_if_new: subscribed` (an existing member's status is never changed:
  someone who unsubscribed in Mailchimp stays unsubscribed) and `merge_fields`.
  https://mailchimp.com/developer/marketing/api/list-members/add-or-update-list-member/
- Merge fields: FNAME, LNAME, PHONE, and one merge field per other column
  (PERSONID, COUNTRY, PSCORE, ...; `mailchimp.merge_fields` in sync.yml
  overrides a tag, new columns get a tag derived from their name). Missing
  merge fields are created once per run before the first upsert
  (`GET`/`POST /3.0/lists/{list_id}/merge-fields`), numbers as `number`,
  everything else as `text` (arrays joined with ", "; null sent as "" so that
  it clears). Tags are kept to 10 characters and text to 255: conservative
  limits (the merge-tag limit Mailchimp's audience settings show), not figures
  from the API reference.
  https://mailchimp.com/developer/marketing/api/list-merges/
- Audience memberships: `POST /3.0/lists/{list_id}/members/{hash}/tags` with
  `{"tags": [{"name": audience_key, "status": "active"}]}`, "inactive" when the
  membership ends. A membership is sent only once its member exists.
  https://mailchimp.com/developer/marketing/api/list-member-tags/add-or-remove-member-tags/
- Removals: the member is archived, `DELETE /3.0/lists/{list_id}/members/{hash}`.
  https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/
- Erasures: `POST /3.0/lists/{list_id}/members/{hash}/actions/delete-permanent`.
  https://mailchimp.com/developer/marketing/api/list-members/delete-list-member/
  A 404 on an archive, untag or erasure means the member is already gone: acknowledged.
- At most `concurrency` (10, Mailchimp's limit of simultaneous connections)
  requests in flight: a thread pool of that size over one httpx client whose
  pool holds as many connections.
  https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits
- Per-member 400: that member is invalid (the error's `title` is kept, never
  its `detail`, which echoes the address). A rejected erasure is never
  invalid: it fails and is sent again next run.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from mailroom.sync.base import Destination, FatalDestinationError, Item, Outcome, chunked
from mailroom.sync.config import HttpSettings, MailchimpSettings
from mailroom.sync.http import DeliveryError, RetryingClient, error_summary
from mailroom.sync.source import DELETIONS, MEMBERSHIPS, PROFILES

log = logging.getLogger("mailroom.sync")

DEFAULT_MERGE_TAGS = {
    "first_name": "FNAME",
    "last_name": "LNAME",
    "phone_number": "PHONE",
    "person_id": "PERSONID",
    "country_code": "COUNTRY",
    "segments": "SEGMENTS",
    "cluster_name": "CLUSTER",
    "purchase_score": "PSCORE",
    "purchase_tier": "PTIER",
    "churn_score": "CSCORE",
    "churn_tier": "CTIER",
    "predicted_revenue_365d": "PREDREV365",
    "orders_lifetime": "ORDERS",
    "revenue_lifetime": "REVENUE",
    "last_order_at": "LASTORDER",
    "best_send_hour_utc": "SENDHOUR",
    "is_fatigued": "FATIGUED",
    "content_block": "CONTENT",
    "offer_code": "OFFER",
    "subject_line": "SUBJECT",
    "preheader": "PREHEADER",
    "recommended_products": "RECS",
    "audiences": "AUDIENCES",
    "consent_updated_at": "CONSENTAT",
}
NUMERIC_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "REAL",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
)
MAX_TEXT = 255
MAX_TAG = 10


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lower-cased address."""
    return hashlib.md5(email.lower().encode("utf-8")).hexdigest()


def merge_tags(columns: Iterable[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """column -> merge tag for every profile column but the address (unique, <= 10 chars)."""
    overrides = overrides or {}
    tags: dict[str, str] = {}
    used: set[str] = set()
    for column in columns:
        if column == "email":
            continue
        tag = overrides.get(column) or DEFAULT_MERGE_TAGS.get(column)
        if tag is None:
            tag = re.sub(r"[^A-Z0-9_]", "", column.upper()) or "FIELD"
        tag = tag[:MAX_TAG]
        n = 1
        while tag in used:
            suffix = str(n)
            tag = tag[: MAX_TAG - len(suffix)] + suffix
            n += 1
        used.add(tag)
        tags[column] = tag
    return tags


def is_numeric(duckdb_type: str) -> bool:
    return duckdb_type.upper().split("(")[0] in NUMERIC_TYPES


def merge_value(value: Any, numeric: bool) -> Any:
    if value is None:
        return ""
    if numeric and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, list):
        text = ", ".join(str(v) for v in value)
    else:
        text = str(value)
    return text[:MAX_TEXT]


class MailchimpDestination(Destination):
    name = "mailchimp"
    memberships_need_profile = True
    removal_needs_address = False  # the member id (MD5) is kept in state

    def __init__(self, settings: MailchimpSettings, http: HttpSettings) -> None:
        self.settings = settings
        self.list_path = f"/3.0/lists/{settings.list_id}"
        self.client = RetryingClient(
            settings.resolved_base_url(),
            http,
            auth=("mailroom", settings.api_key or ""),
            max_connections=settings.concurrency,
        )
        self.pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="mailchimp")
        self._merge_fields_ready = False
        self._lock = threading.Lock()
        self.tags: dict[str, str] = {}
        self.numeric: dict[str, bool] = {}

    @property
    def http_requests(self) -> int:
        return self.client.requests

    @property
    def http_retries(self) -> int:
        return self.client.retries

    @property
    def http_timeouts(self) -> int:
        return self.client.timeouts

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.client.close()

    def set_columns(self, stream: str, columns: dict[str, str]) -> None:
        super().set_columns(stream, columns)
        if stream == PROFILES:
            self.tags = merge_tags(columns, self.settings.merge_fields)
            self.numeric = {c: is_numeric(t) for c, t in columns.items()}

    def _check(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise FatalDestinationError(f"Mailchimp refused the API key: {error_summary(response)}")

    def ensure_merge_fields(self) -> None:
        """Create the merge fields this sync writes that the audience lacks (once per run)."""
        if self._merge_fields_ready:
            return
        response = self.client.request(
            "GET", f"{self.list_path}/merge-fields", params={"count": 1000}
        )
        self._check(response)
        if not response.is_success:
            raise FatalDestinationError(f"cannot read merge fields: {error_summary(response)}")
        existing = {mf.get("tag") for mf in response.json().get("merge_fields", [])}
        for column, tag in self.tags.items():
            if tag in existing:
                continue
            kind = "number" if self.numeric.get(column) else "text"
            created = self.client.request(
                "POST",
                f"{self.list_path}/merge-fields",
                json={"tag": tag, "name": column, "type": kind, "required": False},
            )
            self._check(created)
            if not created.is_success:
                raise FatalDestinationError(
                    f"cannot create merge field {tag}: {error_summary(created)}"
                )
            log.info("created merge field %s", tag)
        self._merge_fields_ready = True

    def member_body(self, record: dict[str, Any]) -> dict[str, Any]:
        merge = {
            tag: merge_value(record.get(column), self.numeric.get(column, False))
            for column, tag in self.tags.items()
        }
        return {
            "email_address": record["email"],
            "status_if_new": "subscribed",
            "merge_fields": merge,
        }

    def deliver(self, stream: str, items: Iterable[Item]) -> Iterator[list[Outcome]]:
        if stream not in (PROFILES, MEMBERSHIPS, DELETIONS):
            raise ValueError(f"mailchimp does not take stream {stream}")
        for chunk in chunked(items, self.settings.batch_size):
            if stream == PROFILES and any(i.operation != "remove" for i in chunk):
                self.ensure_merge_fields()
            yield list(self.pool.map(self._one, chunk))

    def _request(self, item: Item) -> tuple[str, httpx.Response]:
        member = item.esp_id if item.operation == "remove" and item.esp_id else None
        if member is None:
            if not item.email:
                raise LookupError
            member = subscriber_hash(item.email)
        path = f"{self.list_path}/members/{member}"
        if item.stream == DELETIONS:
            return member, self.client.request("POST", f"{path}/actions/delete-permanent")
        if item.stream == MEMBERSHIPS:
            tag = item.group_key or str(item.record.get("audience_key"))
            status = "inactive" if item.operation == "remove" else "active"
            body = {"tags": [{"name": tag, "status": status}], "is_syncing": False}
            return member, self.client.request("POST", f"{path}/tags", json=body)
        if item.operation == "remove":
            return member, self.client.request("DELETE", path)
        return member, self.client.request("PUT", path, json=self.member_body(item.record))

    def _one(self, item: Item) -> Outcome:
        try:
            member, response = self._request(item)
        except LookupError:
            return item.failed("address not found by the removal lookup")
        except DeliveryError as exc:
            return item.failed(str(exc), exc.status)
        if response.is_success:
            return item.acknowledged(response.status_code, esp_id=member)
        self._check(response)
        summary = error_summary(response)
        if response.status_code == 404 and item.operation in ("remove", "delete"):
            return item.acknowledged(404, esp_id=member)  # already gone
        if response.status_code in (400, 422) and item.operation != "delete":
            log.info("invalid record: key %s", item.key_hash[:12])
            return item.invalid(summary, response.status_code)
        return item.failed(summary, response.status_code)
