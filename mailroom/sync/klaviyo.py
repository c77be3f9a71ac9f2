"""Klaviyo: bulk profile import jobs, suppression jobs for removals, data-privacy deletions.

Follows Klaviyo's documented API (revision pinned in `KlaviyoSettings.revision`):

- Profiles: `POST /api/profile-bulk-import-jobs` (JSON:API `profile-bulk-import-job`,
  at most 10,000 profiles and 5 MB per request, 100 KB per profile), then
  `GET /api/profile-bulk-import-jobs/{id}` until `complete`, then
  `GET /api/profile-bulk-import-jobs/{id}/import-errors` when `failed_count` > 0:
  each import error is matched to its profile (by `original_payload.email`, or
  the `source.pointer` index) and that key is marked invalid. When fewer
  errors are matched than `failed_count`, every other profile of the job is
  marked failed (retried next run; a re-import is idempotent). The error
  pages' `links.next` is followed on the configured host only, for at most
  `MAX_ERROR_PAGES` pages. A request
  rejected as a whole (400/413/422) is split, at the profile a JSON:API error
  pointer names or else in halves, until the offending profile is alone: it is
  marked invalid and the rest delivered.
  https://developers.klaviyo.com/en/reference/bulk_import_profiles
  https://developers.klaviyo.com/en/reference/get_bulk_import_profiles_job
  https://developers.klaviyo.com/en/reference/get_errors_for_bulk_import_profiles_job
  https://developers.klaviyo.com/en/docs/use_klaviyos_bulk_profile_import_api
- A profile is `email`, `external_id` (person_id), `first_name`, `last_name`,
  `phone_number`, `location.country` (country_code) and `properties` (every
  other column; JSON-text columns as arrays, timestamps as ISO-8601 UTC).
  Null values are left out: the bulk import cannot clear a field (documented),
  so a property that becomes null keeps its old value in Klaviyo.
- Audiences travel as the `audiences` profile property; the memberships
  stream is not sent to Klaviyo.
- Removals (someone acknowledged before who left the profiles mart, i.e. is no
  longer contactable) are suppressed: `POST /api/profile-suppression-bulk-create-jobs`,
  at most 100 addresses per request. A suppressed profile is never
  un-suppressed by the sync: if the person becomes contactable again, the
  profile is re-imported but stays suppressed until they subscribe in Klaviyo.
  https://developers.klaviyo.com/en/reference/bulk_suppress_profiles
- Erasures: `POST /api/data-privacy-deletion-jobs`, one profile (by e-mail) per request.
  Any answer but a success fails the erasure (never invalid): it is sent again next run.
  https://developers.klaviyo.com/en/reference/request_profile_deletion
- Rate limits: 429 with `Retry-After` is honoured (`mailroom.sync.http`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import groupby
from typing import Any

import httpx

from mailroom.standardize import normalize_email
from mailroom.sync.base import Destination, FatalDestinationError, Item, Outcome
from mailroom.sync.config import HttpSettings, KlaviyoSettings
from mailroom.sync.http import DeliveryError, RetryingClient, error_summary, sanitize
from mailroom.sync.source import DELETIONS, IDENTITY_COLUMNS, PROFILES, sha256

log = logging.getLogger("mailroom.sync")

IMPORT_PATH = "/api/profile-bulk-import-jobs"
SUPPRESS_PATH = "/api/profile-suppression-bulk-create-jobs"
ERASE_PATH = "/api/data-privacy-deletion-jobs"
SPLIT_STATUSES = (400, 413, 422)
POINTER_RE = re.compile(r"^/data/attributes/profiles/data/(\d+)(?:/|$)")
FINAL_JOB_STATUSES = ("complete", "cancelled")
MAX_ERROR_PAGES = 1_000  # import-error pages read per job (a 10,000-profile job: 500 at 20)


def profile_attributes(record: dict[str, Any]) -> dict[str, Any]:
    """A canonical profiles-mart row as Klaviyo profile attributes (nulls left out)."""
    attributes: dict[str, Any] = {"email": record["email"]}
    if record.get("person_id") is not None:
        attributes["external_id"] = str(record["person_id"])
    for column in ("first_name", "last_name", "phone_number"):
        if record.get(column) is not None:
            attributes[column] = record[column]
    if record.get("country_code") is not None:
        attributes["location"] = {"country": record["country_code"]}
    properties = {k: v for k, v in record.items() if k not in IDENTITY_COLUMNS and v is not None}
    if properties:
        attributes["properties"] = properties
    return attributes


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def pointer_index(response: httpx.Response) -> int | None:
    """The profile index a JSON:API error pointer names, if any."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return None
    for err in errors:
        pointer = ((err or {}).get("source") or {}).get("pointer") or ""
        match = POINTER_RE.match(pointer)
        if match:
            return int(match.group(1))
    return None


def split_parts(items: list[Item], index: int | None) -> list[list[Item]]:
    if index is not None and 0 <= index < len(items):
        parts = [items[:index], [items[index]], items[index + 1 :]]
    else:
        half = len(items) // 2
        parts = [items[:half], items[half:]]
    return [p for p in parts if p]


class KlaviyoDestination(Destination):
    name = "klaviyo"
    sends_memberships = False
    notes = (
        "audience_memberships: not sent to Klaviyo; audiences travel as the `audiences` "
        "profile property",
    )

    def __init__(
        self,
        settings: KlaviyoSettings,
        http: HttpSettings,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.client = RetryingClient(
            settings.base_url.rstrip("/"),
            http,
            headers={
                "Authorization": f"Klaviyo-API-Key {settings.api_key}",
                "revision": settings.revision,
                "accept": "application/vnd.api+json",
                "content-type": "application/vnd.api+json",
            },
        )

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
        self.client.close()

    # -- dispatch ---------------------------------------------------------------------------

    def deliver(self, stream: str, items: Iterable[Item]) -> Iterator[list[Outcome]]:
        if stream == DELETIONS:
            for item in items:
                yield [self._erase(item)]
        elif stream == PROFILES:
            for is_removal, group in groupby(items, key=lambda i: i.operation == "remove"):
                if is_removal:
                    yield from self._suppress(list(group))
                else:
                    yield from self._import(group)
        else:
            raise ValueError(f"klaviyo does not take stream {stream}")

    def _check_fatal(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise FatalDestinationError(f"Klaviyo refused the API key: {error_summary(response)}")

    def _bisecting(
        self,
        items: list[Item],
        post: Callable[[list[Item]], httpx.Response],
        on_success: Callable[[list[Item], httpx.Response], Iterator[list[Outcome]]],
    ) -> Iterator[list[Outcome]]:
        """POST `items`; a request rejected as a whole is split until the bad item is alone."""
        pending = [items]
        while pending:
            part = pending.pop()
            try:
                response = post(part)
            except DeliveryError as exc:
                yield [i.failed(str(exc), exc.status) for i in part]
                continue
            if response.is_success:
                yield from on_success(part, response)
                continue
            self._check_fatal(response)
            summary = error_summary(response)
            if response.status_code in SPLIT_STATUSES:
                if len(part) == 1:
                    log.info("invalid record isolated: key %s", part[0].key_hash[:12])
                    yield [part[0].invalid(summary, response.status_code)]
                else:
                    pending.extend(reversed(split_parts(part, pointer_index(response))))
                continue
            yield [i.failed(summary, response.status_code) for i in part]

    # -- profiles ---------------------------------------------------------------------------

    def _import_body(self, profiles: list[str]) -> str:
        relationships = ""
        if self.settings.list_id:
            lists = _dumps({"type": "list", "id": self.settings.list_id})
            relationships = ',"relationships":{"lists":{"data":[' + lists + "]}}"
        return (
            '{"data":{"type":"profile-bulk-import-job","attributes":{"profiles":{"data":['
            + ",".join(profiles)
            + "]}}"
            + relationships
            + "}}"
        )

    def _batches(self, items: Iterable[Item]) -> Iterator[list[Item] | Outcome]:
        """Batches of at most `batch_size` profiles and `max_batch_bytes`; oversized profiles
        come out alone as invalid outcomes."""
        s = self.settings
        overhead = len(self._import_body([]).encode())
        batch: list[Item] = []
        size = overhead
        for item in items:
            text = _dumps({"type": "profile", "attributes": profile_attributes(item.record)})
            item.wire = text
            n = len(text.encode()) + 1
            if n > s.max_profile_bytes or overhead + n > s.max_batch_bytes:
                yield item.invalid(f"profile larger than {s.max_profile_bytes} bytes")
                continue
            if batch and (len(batch) >= s.batch_size or size + n > s.max_batch_bytes):
                yield batch
                batch, size = [], overhead
            batch.append(item)
            size += n
        if batch:
            yield batch

    def _post_import(self, items: list[Item]) -> httpx.Response:
        body = self._import_body([i.wire or "" for i in items])
        return self.client.request("POST", IMPORT_PATH, content=body.encode())

    def _import(self, items: Iterable[Item]) -> Iterator[list[Outcome]]:
        for batch in self._batches(items):
            if isinstance(batch, Outcome):
                yield [batch]
            else:
                yield from self._bisecting(batch, self._post_import, self._await_job)

    def _await_job(self, items: list[Item], response: httpx.Response) -> Iterator[list[Outcome]]:
        try:
            job_id = response.json()["data"]["id"]
        except (ValueError, KeyError, TypeError):
            yield [
                i.failed("import job accepted without an id", response.status_code) for i in items
            ]
            return
        s = self.settings
        deadline = time.monotonic() + s.poll_timeout_seconds
        attributes: dict[str, Any] = {}
        while True:
            try:
                polled = self.client.request("GET", f"{IMPORT_PATH}/{job_id}")
            except DeliveryError as exc:
                yield [i.failed(f"job status unknown: {exc}") for i in items]
                return
            if not polled.is_success:
                self._check_fatal(polled)
                yield [i.failed(f"job status unknown: {error_summary(polled)}") for i in items]
                return
            attributes = (polled.json().get("data") or {}).get("attributes") or {}
            if attributes.get("status") in FINAL_JOB_STATUSES:
                break
            if time.monotonic() > deadline:
                yield [i.failed("import job still processing at poll timeout") for i in items]
                return
            self.sleep(s.poll_interval_seconds)
        if attributes.get("status") == "cancelled":
            yield [i.failed("import job cancelled") for i in items]
            return
        errors: dict[str, str] = {}
        unmatched = 0
        if (attributes.get("failed_count") or 0) > 0:
            try:
                errors = self._import_errors(job_id, items)
            except DeliveryError as exc:
                yield [i.failed(f"import errors unreadable: {exc}") for i in items]
                return
            unmatched = (attributes.get("failed_count") or 0) - len(errors)
        if unmatched > 0:
            # Which profiles those were is unknown: none of the others counts as imported.
            # They are retried next run (a re-import is idempotent).
            log.warning("%d import errors could not be matched to a profile", unmatched)
            yield [
                i.invalid(errors[i.key_hash], 200)
                if i.key_hash in errors
                else i.failed(f"{unmatched} import errors of the job not matched to a profile")
                for i in items
            ]
            return
        yield [
            i.invalid(errors[i.key_hash], 200) if i.key_hash in errors else i.acknowledged(202)
            for i in items
        ]

    def _import_errors(self, job_id: str, items: list[Item]) -> dict[str, str]:
        """key_hash -> sanitized error, for every import error of the job (all pages).

        `links.next` is followed for at most `MAX_ERROR_PAGES` pages, and only on the
        configured base URL's host (the API key goes with every request)."""
        keys = {i.key_hash for i in items}
        found: dict[str, str] = {}
        base = httpx.URL(self.settings.base_url)
        url: str | None = f"{IMPORT_PATH}/{job_id}/import-errors"
        pages = 0
        while url:
            pages += 1
            if pages > MAX_ERROR_PAGES:
                raise DeliveryError(f"import errors: more than {MAX_ERROR_PAGES} pages")
            target = httpx.URL(url)
            if target.is_absolute_url and (target.scheme, target.host, target.port) != (
                base.scheme,
                base.host,
                base.port,
            ):
                raise DeliveryError("import errors: next page link names another host")
            response = self.client.request("GET", url)
            if not response.is_success:
                self._check_fatal(response)
                raise DeliveryError(error_summary(response), response.status_code)
            body = response.json()
            for err in body.get("data") or []:
                attrs = (err or {}).get("attributes") or {}
                key = None
                original = attrs.get("original_payload") or {}
                address = original.get("email") or (original.get("attributes") or {}).get("email")
                email = normalize_email(address) if isinstance(address, str) else None
                if email is not None and sha256(email) in keys:
                    key = sha256(email)
                else:
                    match = POINTER_RE.match(((attrs.get("source") or {}).get("pointer")) or "")
                    if match and int(match.group(1)) < len(items):
                        key = items[int(match.group(1))].key_hash
                if key is not None:
                    found[key] = sanitize(
                        "import error: "
                        + " ".join(str(p) for p in (attrs.get("code"), attrs.get("title")) if p)
                    )
            url = (body.get("links") or {}).get("next")
        return found

    # -- removals and erasures ---------------------------------------------------------------

    def _post_suppress(self, items: list[Item]) -> httpx.Response:
        body = {
            "data": {
                "type": "profile-suppression-bulk-create-job",
                "attributes": {
                    "profiles": {
                        "data": [
                            {"type": "profile", "attributes": {"email": i.email}} for i in items
                        ]
                    }
                },
            }
        }
        return self.client.request("POST", SUPPRESS_PATH, content=_dumps(body).encode())

    def _suppress(self, items: list[Item]) -> Iterator[list[Outcome]]:
        unresolved = [i for i in items if not i.email]
        if unresolved:
            yield [i.failed("address not found by the removal lookup") for i in unresolved]
        resolved = [i for i in items if i.email]
        size = self.settings.suppression_batch_size
        for start in range(0, len(resolved), size):
            yield from self._bisecting(
                resolved[start : start + size],
                self._post_suppress,
                lambda part, response: iter([[i.acknowledged(response.status_code) for i in part]]),
            )

    def _erase(self, item: Item) -> Outcome:
        body = {
            "data": {
                "type": "data-privacy-deletion-job",
                "attributes": {
                    "profile": {"data": {"type": "profile", "attributes": {"email": item.email}}}
                },
            }
        }
        try:
            response = self.client.request("POST", ERASE_PATH, content=_dumps(body).encode())
        except DeliveryError as exc:
            return item.failed(str(exc), exc.status)
        if response.is_success:
            return item.acknowledged(response.status_code)
        self._check_fatal(response)
        # Even a 400/413/422: an erasure is never left as invalid, it is sent again next run.
        return item.failed(error_summary(response), response.status_code)
