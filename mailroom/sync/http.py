"""HTTP with retries on httpx: rate limits, Retry-After, equal-jitter backoff, sanitized errors.

httpx (not hand-written sockets or urllib): connection pooling with a bound on
connections (Mailchimp allows 10), separate connect/read timeouts, a
thread-safe client for the Mailchimp worker pool, and HTTP/1.1 keep-alive.

A request is retried when the answer is 429 (after `Retry-After` seconds,
fractions accepted, or an HTTP date; otherwise backoff), 500, 502, 503 or 504,
or when it times out or the connection fails, with exponential backoff and
equal jitter (half the delay fixed, half random), a bounded number of times.
The client counts its requests, its retries and the requests that timed out
(the sync report shows all three): a request that timed out may have been
applied all the same, so its retry may apply it twice, which an idempotent
call (an upsert, a tag status, an archive) tolerates.
A 429 pauses the whole client, every worker thread: no request is sent before
the announced time. When that time is further away than
`max_retry_after_seconds`, requests fail at once (`DeliveryError`, without
being sent; the rows are retried next run). Any other answer is returned to
the caller, which decides (a 400 is the record's fault, a 404 on a removal
means already gone). Every error message that can reach logs, stdout or the
audit table goes through `sanitize`: no response body is ever kept, only its JSON error codes
and titles, with anything that looks like an e-mail address masked.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading
import time
from typing import Any

import httpx

from mailroom.sync.config import HttpSettings

log = logging.getLogger("mailroom.sync")

RETRY_STATUSES = frozenset({500, 502, 503, 504})
EMAIL_RE = re.compile(r"[^\s\"'<>(),;:]+@[^\s\"'<>(),;:]+")


def sanitize(text: str | None, limit: int = 200) -> str | None:
    """Mask anything shaped like an e-mail address and cap the length."""
    if text is None:
        return None
    text = EMAIL_RE.sub("<email>", str(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_summary(response: httpx.Response) -> str:
    """`HTTP <status>` plus the JSON error codes and titles (never `detail`, which may echo data)."""
    parts = [f"HTTP {response.status_code}"]
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list):  # JSON:API (Klaviyo)
            for err in errors[:3]:
                if isinstance(err, dict):
                    code, title = err.get("code"), err.get("title")
                    pointer = (err.get("source") or {}).get("pointer")
                    parts.append(
                        " ".join(
                            str(p) for p in (code, title, f"at {pointer}" if pointer else None) if p
                        )
                    )
        elif body.get("title"):  # RFC 7807 problem (Mailchimp)
            parts.append(str(body["title"]))
    return sanitize("; ".join(parts)) or f"HTTP {response.status_code}"


class DeliveryError(RuntimeError):
    """Retries exhausted (or the connection never worked); the message is sanitized."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(sanitize(message))
        self.status = status


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryingClient:
    """An httpx.Client whose `request` retries what is worth retrying and counts requests."""

    def __init__(
        self,
        base_url: str,
        settings: HttpSettings,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        max_connections: int = 10,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.client = httpx.Client(
            base_url=base_url,
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._not_before = 0.0  # time.monotonic() before which no request is sent (a 429)
        self.requests = 0
        self.retries = 0
        self.timeouts = 0  # requests that got no answer within the timeout (each one retried)

    def close(self) -> None:
        self.client.close()

    def _count(self, retry: bool = False) -> None:
        with self._lock:
            self.requests += 1
            if retry:
                self.retries += 1

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random ("equal jitter")."""
        s = self.settings
        ceiling = min(s.max_delay_seconds, s.base_delay_seconds * (2**attempt))
        with self._lock:
            return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    @property
    def paused_until(self) -> float:
        """time.monotonic() before which no request is sent (0.0 until a 429 pauses the client)."""
        with self._lock:
            return self._not_before

    def pause(self, seconds: float) -> None:
        """No request from any thread of this client before `seconds` from now (a 429)."""
        with self._lock:
            self._not_before = max(self._not_before, time.monotonic() + seconds)

    def _wait_turn(self) -> None:
        """Sleep out the client's 429 pause; fail at once if it lasts beyond the cap."""
        while True:
            with self._lock:
                wait = self._not_before - time.monotonic()
            if wait <= 0:
                return
            if wait > self.settings.max_retry_after_seconds:
                raise DeliveryError(
                    f"rate limited for {wait:.0f}s more, beyond max_retry_after_seconds "
                    f"({self.settings.max_retry_after_seconds:g})",
                    429,
                )
            time.sleep(wait)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        s = self.settings
        failures = 0
        rate_limited = 0
        last_error = "no attempt"
        while True:
            self._wait_turn()
            self._count(retry=failures + rate_limited > 0)
            try:
                response = self.client.request(method, url, **kwargs)
            except httpx.TimeoutException:
                last_error = "timeout"
                response = None
                with self._lock:
                    self.timeouts += 1
            except httpx.TransportError as exc:
                last_error = f"connection error ({type(exc).__name__})"
                response = None
            if response is not None:
                if response.status_code == 429:
                    rate_limited += 1
                    if rate_limited > s.max_rate_limited:
                        raise DeliveryError(
                            f"rate limited {rate_limited} times: {error_summary(response)}", 429
                        )
                    wait = retry_after_seconds(response)
                    if wait is None:
                        wait = self.backoff(rate_limited - 1)
                    log.debug("429 on %s; client paused %.3fs", method, wait)
                    self.pause(wait)  # every thread waits; beyond the cap, _wait_turn fails
                    continue
                if response.status_code not in RETRY_STATUSES:
                    return response
                last_error = error_summary(response)
            failures += 1
            if failures >= s.max_attempts:
                status = response.status_code if response is not None else None
                raise DeliveryError(f"{last_error} after {failures} attempts", status)
            wait = self.backoff(failures - 1)
            log.debug("%s on %s; retry %d in %.3fs", last_error, method, failures, wait)
            time.sleep(wait)
