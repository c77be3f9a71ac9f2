"""Fake Klaviyo and Mailchimp servers for the sync tests: real HTTP on 127.0.0.1.

Each follows its ESP's documented contract closely enough to catch a client
that breaks it (auth, Klaviyo's revision header and JSON:API bodies, the 10,000
profile and 5 MB caps, Mailchimp's MD5 subscriber hash and 10 connections),
records what it *applied* (so a test can check every change landed exactly
once), and injects faults on request: a storm of 429s with Retry-After,
500/502/503 answers, records rejected as invalid, and three ways of not
answering.

Every fault is decided by the server, never by a race with the client's
clock, so a test's verdict does not depend on how loaded the machine is:

- `timeout_next`: the request is held unanswered and never applied until the
  client gives up and closes the connection (or the server shuts down, or
  `HOLD_LIMIT` passes, ten times any client timeout the tests use). The
  client's timeout fires however slow the machine, and nothing lingers after.
- `disconnect_next`: the connection is closed without an answer, before the
  request is applied (the client sees a lost connection at once).
- `lose_answer_next`: the request is applied, then the connection is closed
  without an answer: what a client sees when the server applied a request
  whose answer it gave up on. Only an idempotent call survives it unharmed.

Retry-After is enforced: after a 429 announcing N seconds, any request before
that time gets another 429 (with the time left, `rate_limit_enforced`). A
request identical (method, path with query, body) to one answered 429 that
arrives before that 429's Retry-After has run out is a violation
(`retry_after_violations`): the client can only have sent it after reading the
429, so this is cause and effect, not a guess about what was in flight.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import random
import re
import select
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Response = tuple[int, dict[str, str], Any]
ALL_METHODS = ("GET", "POST", "PUT", "DELETE")


@dataclass
class Fault:
    kind: str  # status, timeout (held), disconnect (before applying), lost (after applying)
    status: int = 500
    retry_after: str | None = None
    methods: tuple[str, ...] = ALL_METHODS
    where: str = ""  # only requests whose path contains this

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and self.where in path


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _dispatch(self) -> None:
        self.server.esp.handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


class FakeESP:
    """Common machinery: a threaded server, request log, concurrency and fault queue."""

    HOLD_LIMIT = 300.0  # seconds a held request waits for its client to give up, at most

    def __init__(self, latency: float = 0.0) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.faults: deque[Fault] = deque()
        self.random_fault_rate = 0.0
        self.rng = random.Random(7)
        self.faults_served: Counter = Counter()
        self.latency = latency
        self.applied: Counter = Counter()
        # (start, end) in time.monotonic() of the last Retry-After announced
        self.rate_limited_window: tuple[float, float] | None = None
        self.rate_limit_enforced = 0  # requests answered 429 because they came too early
        # (method, path, body) answered 429 -> time.monotonic() before which its retry is early
        self.retry_not_before: dict[tuple[str, str, bytes], float] = {}
        self.retry_after_violations = 0  # retries sent before their 429's Retry-After ran out
        self.abandoned = 0  # held requests whose client gave up (closed the connection)
        self.closing = threading.Event()  # set on shutdown: releases held requests
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.esp = self  # type: ignore[attr-defined]
        # A short poll interval: shutdown() waits for it (the default 0.5 s, per server).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- fault injection ------------------------------------------------------------------------

    def rate_limit_storm(self, n: int, retry_after: str = "0.01", methods=ALL_METHODS) -> None:
        for _ in range(n):
            self.faults.append(Fault("status", 429, retry_after, methods=methods))

    def fail_next(self, statuses: list[int], methods=ALL_METHODS) -> None:
        for status in statuses:
            self.faults.append(Fault("status", status, methods=methods))

    def timeout_next(self, n: int, methods=ALL_METHODS, where: str = "") -> None:
        """Hold the next `n` matching requests unanswered, unapplied, until the client gives up."""
        for _ in range(n):
            self.faults.append(Fault("timeout", methods=methods, where=where))

    def disconnect_next(self, n: int, methods=ALL_METHODS, where: str = "") -> None:
        """Close the connection of the next `n` matching requests unanswered, unapplied."""
        for _ in range(n):
            self.faults.append(Fault("disconnect", methods=methods, where=where))

    def lose_answer_next(self, n: int, methods=ALL_METHODS, where: str = "") -> None:
        """Apply the next `n` matching requests, then close the connection without answering."""
        for _ in range(n):
            self.faults.append(Fault("lost", methods=methods, where=where))

    def random_errors(self, rate: float) -> None:
        """Answer about `rate` of requests with a random 500, 502 or 503 (seeded)."""
        self.random_fault_rate = rate

    def clear_faults(self) -> None:
        """No more faults, and the announced Retry-After is forgotten."""
        with self.lock:
            self.faults.clear()
            self.random_fault_rate = 0.0
            self.rate_limited_window = None
            self.retry_not_before.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for i, fault in enumerate(self.faults):
                if fault.matches(method, path):
                    del self.faults[i]
                    return fault
            if self.random_fault_rate and self.rng.random() < self.random_fault_rate:
                return Fault("status", self.rng.choice([500, 502, 503]))
        return None

    # -- request handling -----------------------------------------------------------------------

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        url = urlsplit(h.path)
        identity = (h.command, h.path, raw)
        with self.lock:
            self.requests.append((h.command, url.path))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            in_flight = self.in_flight
            if time.monotonic() < self.retry_not_before.get(identity, 0.0):
                self.retry_after_violations += 1
        try:
            if self.latency:
                time.sleep(self.latency)
            too_early = self._too_early(identity)
            if too_early is not None:
                headers = {"Retry-After": f"{math.ceil(too_early * 1000) / 1000:.3f}"}
                self._send(h, 429, headers, {"errors": [{"title": "Retry-After not honoured"}]})
                return
            fault = self._take_fault(h.command, url.path)
            if fault is not None:
                with self.lock:
                    self.faults_served[fault.status if fault.kind == "status" else fault.kind] += 1
                if fault.kind == "timeout":
                    self._hold(h)
                    return
                if fault.kind == "lost":
                    self.route(h.command, url.path, parse_qs(url.query), h.headers, raw, in_flight)
                if fault.kind in ("disconnect", "lost"):
                    self._drop(h)
                    return
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                if fault.status == 429 and fault.retry_after:
                    with self.lock:
                        start = time.monotonic()
                        end = start + float(fault.retry_after)
                        self.rate_limited_window = (start, end)
                        self.retry_not_before[identity] = end
                self._send(h, fault.status, headers, {"errors": [{"title": "injected"}]})
                return
            status, headers, body = self.route(
                h.command, url.path, parse_qs(url.query), h.headers, raw, in_flight
            )
            self._send(h, status, headers, body)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _too_early(self, identity: tuple[str, str, bytes]) -> float | None:
        """Seconds left of the announced Retry-After, if this request came before its end."""
        now = time.monotonic()
        with self.lock:
            window = self.rate_limited_window
            if window is None or now >= window[1]:
                return None
            self.rate_limit_enforced += 1
            self.retry_not_before[identity] = window[1]  # the 429 below announces the rest
            return window[1] - now

    def _hold(self, h: BaseHTTPRequestHandler) -> None:
        """Never answer, never apply: wait until the client closes the connection (it timed
        out), the server shuts down or HOLD_LIMIT passes; then close the connection."""
        h.close_connection = True
        deadline = time.monotonic() + self.HOLD_LIMIT
        sock = h.connection
        while not self.closing.is_set() and time.monotonic() < deadline:
            try:
                readable = select.select([sock], [], [], 0.05)[0]
                # A client sends nothing more on a connection awaiting its answer: readable
                # means end of file, the client has given up.
                gone = bool(readable) and not sock.recv(1, socket.MSG_PEEK)
            except OSError:  # reset by the client
                gone = True
            if gone or readable:
                with self.lock:
                    self.abandoned += int(gone)
                return

    def _drop(self, h: BaseHTTPRequestHandler) -> None:
        """Close the connection without a byte of answer."""
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, h: BaseHTTPRequestHandler, status: int, headers: dict, body: Any) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        try:
            h.send_response(status)
            for k, v in headers.items():
                h.send_header(k, v)
            if data:
                h.send_header("Content-Type", headers.get("Content-Type", "application/json"))
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if data:
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def route(self, method, path, query, headers, raw, in_flight) -> Response:
        raise NotImplementedError

    def count(self, method: str | None = None, prefix: str = "") -> int:
        with self.lock:
            return sum(
                1
                for m, p in self.requests
                if (method is None or m == method) and p.startswith(prefix)
            )


def _jsonapi_error(
    status: int, code: str, title: str, detail: str, pointer: str | None
) -> Response:
    err: dict[str, Any] = {
        "id": "e1",
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
    }
    if pointer is not None:
        err["source"] = {"pointer": pointer}
    return status, {"Content-Type": "application/vnd.api+json"}, {"errors": [err]}


class FakeKlaviyo(FakeESP):
    """Klaviyo's profile bulk import, suppression and data-privacy deletion endpoints.

    `invalid_mode`: "request" rejects a whole import with 400 and a JSON:API
    pointer to the bad profile; "request_no_pointer" the same without a pointer
    (the client must bisect); "import_errors" accepts the job and reports the
    profile in the job's import errors.

    `unmatchable_errors`: that many of a job's import errors (the first ones)
    carry neither `original_payload` nor a pointer, so the client cannot tell
    which profile failed. `error_next_link`: every import-errors page links to
    this URL as `links.next` (another host, or a page that never ends).
    """

    MAX_PROFILES = 10_000
    MAX_BYTES = 5_000_000
    REVISION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(\.\w+)?$")

    def __init__(self, api_key: str = "pk_test", invalid_mode: str = "request", **kw) -> None:
        super().__init__(**kw)
        self.api_key = api_key
        self.invalid_mode = invalid_mode
        self.profiles: dict[str, dict] = {}
        self.suppressed: set[str] = set()
        self.erased: list[str] = []
        self.jobs: dict[str, dict] = {}
        self.import_sizes: list[int] = []
        self.import_bytes: list[int] = []
        self.revisions: set[str] = set()
        self.error_page_size = 1
        self.unmatchable_errors = 0
        self.error_next_link: str | None = None

    def _invalid(self, attrs: dict) -> str | None:
        email = attrs.get("email")
        if not isinstance(email, str) or not EMAIL_RE.match(email):
            return "email"
        phone = attrs.get("phone_number")
        if phone is not None and not re.match(r"^\+\d{6,15}$", str(phone)):
            return "phone_number"
        return None

    def route(self, method, path, query, headers, raw, in_flight) -> Response:
        if headers.get("Authorization") != f"Klaviyo-API-Key {self.api_key}":
            return _jsonapi_error(401, "not_authenticated", "Not authenticated", "bad key", None)
        revision = headers.get("revision")
        if not revision or not self.REVISION_RE.match(revision):
            return _jsonapi_error(400, "invalid", "Missing or invalid revision header", "", None)
        with self.lock:
            self.revisions.add(revision)
        if method == "POST":
            if headers.get("Content-Type", "").split(";")[0] != "application/vnd.api+json":
                return _jsonapi_error(415, "unsupported_media_type", "Unsupported", "", None)
            if len(raw) > self.MAX_BYTES:
                return _jsonapi_error(413, "too_large", "Payload too large", "", None)
            try:
                body = json.loads(raw)
            except ValueError:
                return _jsonapi_error(400, "invalid", "Invalid JSON", "", None)
            if path == "/api/profile-bulk-import-jobs":
                return self._import(body, len(raw))
            if path == "/api/profile-suppression-bulk-create-jobs":
                return self._suppress(body)
            if path == "/api/data-privacy-deletion-jobs":
                return self._erase(body)
        if method == "GET":
            match = re.match(r"^/api/profile-bulk-import-jobs/([\w-]+)(/import-errors)?$", path)
            if match:
                return self._job(match.group(1), bool(match.group(2)), query)
        return _jsonapi_error(404, "not_found", "Not found", "", None)

    def _import(self, body: dict, size: int) -> Response:
        data = body.get("data") or {}
        if data.get("type") != "profile-bulk-import-job":
            return _jsonapi_error(400, "invalid", "Invalid input", "type", "/data/type")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        if not isinstance(profiles, list) or not profiles:
            return _jsonapi_error(
                400, "invalid", "Invalid input", "profiles", "/data/attributes/profiles/data"
            )
        if len(profiles) > self.MAX_PROFILES:
            return _jsonapi_error(
                400, "invalid", "Too many profiles", "max 10000", "/data/attributes/profiles/data"
            )
        errors = []
        for i, p in enumerate(profiles):
            pointer = f"/data/attributes/profiles/data/{i}"
            if p.get("type") != "profile" or not isinstance(p.get("attributes"), dict):
                return _jsonapi_error(400, "invalid", "Invalid input", "profile", pointer)
            bad = self._invalid(p["attributes"])
            if bad:
                detail = f"{p['attributes'].get(bad)} is not a valid {bad}"  # echoes the data
                if self.invalid_mode == "import_errors":
                    errors.append((i, bad, detail, p["attributes"]))
                    continue
                no_pointer = self.invalid_mode == "request_no_pointer"
                return _jsonapi_error(
                    400,
                    "invalid",
                    "Invalid input.",
                    detail,
                    None if no_pointer else f"{pointer}/attributes/{bad}",
                )
        bad_indexes = {e[0] for e in errors}
        with self.lock:
            job_id = f"job-{len(self.jobs) + 1}"
            self.import_sizes.append(len(profiles))
            self.import_bytes.append(size)
            for i, p in enumerate(profiles):
                if i in bad_indexes:
                    continue
                email = p["attributes"]["email"]
                self.profiles[email] = p["attributes"]
                self.applied[("import", email)] += 1
            self.jobs[job_id] = {"polls": 0, "total": len(profiles), "errors": errors}
        return 202, {"Content-Type": "application/vnd.api+json"}, self._job_body(job_id, "queued")

    def _job_body(self, job_id: str, status: str) -> dict:
        job = self.jobs[job_id]
        done = status == "complete"
        return {
            "data": {
                "type": "profile-bulk-import-job",
                "id": job_id,
                "attributes": {
                    "status": status,
                    "total_count": job["total"],
                    "completed_count": job["total"] - len(job["errors"]) if done else 0,
                    "failed_count": len(job["errors"]) if done else 0,
                },
            }
        }

    def _job(self, job_id: str, errors: bool, query: dict) -> Response:
        if job_id not in self.jobs:
            return _jsonapi_error(404, "not_found", "Not found", "", None)
        job = self.jobs[job_id]
        if not errors:
            with self.lock:
                job["polls"] += 1
                status = "processing" if job["polls"] == 1 else "complete"
            return 200, {}, self._job_body(job_id, status)
        start = int((query.get("page[cursor]") or ["0"])[0])
        page = job["errors"][start : start + self.error_page_size]
        data = []
        for n, (i, bad, detail, attrs) in enumerate(page, start):
            attributes = {"code": "invalid", "title": "Invalid input.", "detail": detail}
            if n >= self.unmatchable_errors:
                pointer = f"/data/attributes/profiles/data/{i}/attributes/{bad}"
                attributes.update(source={"pointer": pointer}, original_payload=attrs)
            data.append({"type": "import-error", "id": f"err-{i}", "attributes": attributes})
        nxt = start + self.error_page_size
        next_link = self.error_next_link
        if next_link is None and nxt < len(job["errors"]):
            next_link = (
                f"{self.base_url}/api/profile-bulk-import-jobs/{job_id}/import-errors"
                f"?page[cursor]={nxt}"
            )
        return 200, {}, {"data": data, "links": {"self": "", "next": next_link}}

    def _suppress(self, body: dict) -> Response:
        data = body.get("data") or {}
        if data.get("type") != "profile-suppression-bulk-create-job":
            return _jsonapi_error(400, "invalid", "Invalid input", "type", "/data/type")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data") or []
        if not profiles or len(profiles) > 100:
            return _jsonapi_error(400, "invalid", "1 to 100 profiles", "", None)
        for i, p in enumerate(profiles):
            if p.get("type") != "profile" or self._invalid(p.get("attributes") or {}) == "email":
                return _jsonapi_error(
                    400, "invalid", "Invalid input.", "bad", f"/data/attributes/profiles/data/{i}"
                )
        with self.lock:
            for p in profiles:
                self.suppressed.add(p["attributes"]["email"])
                self.applied[("suppress", p["attributes"]["email"])] += 1
        job = {
            "type": "profile-suppression-bulk-create-job",
            "id": "s1",
            "attributes": {"status": "queued"},
        }
        return 202, {}, {"data": job}

    def _erase(self, body: dict) -> Response:
        data = body.get("data") or {}
        profile = ((data.get("attributes") or {}).get("profile") or {}).get("data") or {}
        email = (profile.get("attributes") or {}).get("email")
        if data.get("type") != "data-privacy-deletion-job" or profile.get("type") != "profile":
            return _jsonapi_error(400, "invalid", "Invalid input", "", "/data")
        if not isinstance(email, str) or not EMAIL_RE.match(email):
            return _jsonapi_error(
                400,
                "invalid",
                "Invalid input.",
                f"{email} invalid",
                "/data/attributes/profile/data/attributes/email",
            )
        with self.lock:
            self.erased.append(email)
            self.applied[("erase", email)] += 1
            self.profiles.pop(email, None)
        return 202, {}, None


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


def _problem(status: int, title: str, detail: str) -> Response:
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "abc",
    }
    return status, {"Content-Type": "application/problem+json"}, body


class FakeMailchimp(FakeESP):
    """Mailchimp's list members, tags, archive, delete-permanent and merge-fields endpoints."""

    MAX_CONNECTIONS = 10
    STATUSES = ("subscribed", "pending", "unsubscribed", "cleaned", "transactional")

    def __init__(
        self, api_key: str = "abc123-us6", list_id: str = "list1", latency: float = 0.01
    ) -> None:
        super().__init__(latency=latency)
        self.api_key = api_key
        self.list_id = list_id
        self.members: dict[str, dict] = {}
        self.merge_fields: dict[str, dict] = {
            tag: {"tag": tag, "name": tag, "type": kind}
            for tag, kind in (
                ("FNAME", "text"),
                ("LNAME", "text"),
                ("ADDRESS", "address"),
                ("PHONE", "phone"),
                ("BIRTHDAY", "birthday"),
            )
        }
        self.too_many_connections = 0
        self.created: Counter = Counter()  # address -> times a PUT created its member

    def route(self, method, path, query, headers, raw, in_flight) -> Response:
        auth = headers.get("Authorization", "")
        try:
            _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":", 1)
        except ValueError:
            password = None
        if not auth.startswith("Basic ") or password != self.api_key:
            return _problem(401, "API Key Invalid", "Your API key may be invalid.")
        if in_flight > self.MAX_CONNECTIONS:
            with self.lock:
                self.too_many_connections += 1
            return _problem(429, "Too Many Requests", "More than 10 simultaneous connections.")
        prefix = f"/3.0/lists/{self.list_id}"
        if not path.startswith(prefix):
            return _problem(404, "Resource Not Found", "list")
        rest = path[len(prefix) :]
        body = json.loads(raw) if raw else {}
        if rest == "/merge-fields":
            return self._merge_fields(method, body)
        match = re.match(r"^/members/([0-9a-f]{32})(/tags|/actions/delete-permanent)?$", rest)
        if not match:
            return _problem(404, "Resource Not Found", "path")
        member, action = match.group(1), match.group(2)
        with self.lock:
            exists = member in self.members
        if action is None and method == "PUT":
            return self._upsert(member, body)
        if action is None and method == "DELETE":
            if not exists:
                return _problem(404, "Resource Not Found", "member")
            with self.lock:
                self.members[member]["status"] = "archived"
                self.applied[("archive", member)] += 1
            return 204, {}, None
        if action == "/tags" and method == "POST":
            return self._tags(member, exists, body)
        if action == "/actions/delete-permanent" and method == "POST":
            with self.lock:
                self.applied[("delete_permanent", member)] += 1
                if not exists:
                    return _problem(404, "Resource Not Found", "member")
                del self.members[member]
            return 204, {}, None
        return _problem(405, "Method Not Allowed", "")

    def _merge_fields(self, method: str, body: dict) -> Response:
        if method == "GET":
            fields = list(self.merge_fields.values())
            return 200, {}, {"merge_fields": fields, "total_items": len(fields)}
        tag = body.get("tag", "")
        if not re.match(r"^[A-Z0-9_]{1,10}$", tag) or body.get("type") not in ("text", "number"):
            return _problem(400, "Invalid Resource", "bad merge field")
        with self.lock:
            self.merge_fields[tag] = {"tag": tag, "name": body.get("name"), "type": body["type"]}
        return 200, {}, self.merge_fields[tag]

    def _tags(self, member: str, exists: bool, body: dict) -> Response:
        if not exists:
            return _problem(404, "Resource Not Found", "member")
        tags = body.get("tags")
        if not isinstance(tags, list) or not all(
            isinstance(t, dict) and t.get("name") and t.get("status") in ("active", "inactive")
            for t in tags
        ):
            return _problem(400, "Invalid Resource", "tags")
        with self.lock:
            for t in tags:
                if t["status"] == "active":
                    self.members[member]["tags"].add(t["name"])
                else:
                    self.members[member]["tags"].discard(t["name"])
                self.applied[("tag", member, t["name"], t["status"])] += 1
        return 204, {}, None

    def _upsert(self, member: str, body: dict) -> Response:
        email = body.get("email_address")
        if not isinstance(email, str) or not EMAIL_RE.match(email):
            detail = f"{email} looks fake or invalid, please enter a real email address."
            return _problem(400, "Invalid Resource", detail)
        if subscriber_hash(email) != member:
            return _problem(400, "Invalid Resource", "The subscriber hash does not match.")
        with self.lock:
            exists = member in self.members
        if not exists and body.get("status_if_new") not in self.STATUSES:
            return _problem(400, "Invalid Resource", "status_if_new is required")
        merge = body.get("merge_fields") or {}
        for tag, value in merge.items():
            field = self.merge_fields.get(tag)
            if field is None:
                return _problem(400, "Invalid Resource", f"Your merge fields were invalid: {tag}")
            if field["type"] == "number" and value != "" and not isinstance(value, int | float):
                return _problem(400, "Invalid Resource", f"{tag} must be a number")
            if isinstance(value, str) and len(value) > 255:
                return _problem(400, "Invalid Resource", f"{tag} is too long")
        with self.lock:
            if member not in self.members:
                self.created[email] += 1
            record = self.members.setdefault(
                member, {"email_address": email, "status": None, "tags": set()}
            )
            if record["status"] in (None, "archived"):
                record["status"] = body.get("status_if_new")
            record["merge_fields"] = merge
            self.applied[("upsert", email)] += 1
        return 200, {}, {"id": member, "email_address": email, "status": record["status"]}
