"""Load test of the profile API: a realistic request mix, requests/s, latency, errors.

`run_load_test` starts `mailroom serve` on a free 127.0.0.1 port against the
current snapshot (a separate process, with a generated API key) or drives the
running API at `url`, with `clients` concurrent keep-alive connections (one
asyncio task each) for `duration` seconds after a warm-up. Each request is
drawn from the mix:

- `email`: a known e-mail from the snapshot, randomly re-cased and padded
  with spaces, URL-encoded (must answer `found: true`);
- `person_id`: a known person id (must answer `found: true`);
- `unknown`: an address nobody has (must answer the fallback, `found: false`);
- `audience`: a page of 100 members of an audience, following the previous
  page's `next_cursor` until the walk ends, then another audience.

Any other status, a transport error or a wrong `found` is an error. Keys are
sampled from the snapshot file (so `--url` needs the same snapshot locally).
Figures depend on the machine and its load: this is a benchmark, not a test.

The load generator speaks HTTP/1.1 itself over asyncio streams (`Connection`:
keep-alive, Content-Length bodies, plain HTTP): httpx's async client spent
about 2 ms of CPU per request here, more than twice what the server spends
answering it, so on a small machine it measured itself rather than the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import httpx

from mailroom.serve.snapshot import SnapshotError, current_snapshot_path, open_snapshot_db

DEFAULT_MIX: dict[str, float] = {
    "email": 0.50,
    "person_id": 0.25,
    "unknown": 0.15,
    "audience": 0.10,
}
API_KEY_ENV = "MAILROOM_LOADTEST_API_KEY"
AUDIENCE_PAGE = 100
REQUEST_TIMEOUT = 30.0


class LoadTestError(RuntimeError):
    """The load test could not run (no snapshot, server did not start, no key)."""


@dataclass
class LoadTestResult:
    url: str
    server: str
    clients: int
    duration_seconds: float
    requests: int
    requests_per_second: float
    latency_ms: dict[str, float]
    errors: int
    errors_by_kind: dict[str, int]
    requests_by_kind: dict[str, int]
    latency_ms_by_kind: dict[str, dict[str, float]]
    statuses: dict[str, int]
    # CPU seconds of the load generator per second: near 1, the client is the limit
    client_cpu_share: float
    # CPU of the server processes per request (a server started here, on Linux)
    server_cpu_ms_per_request: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class KeySample:
    emails: list[str]
    person_ids: list[str]
    audiences: list[str]


@dataclass
class _Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    cpu_share: float = 0.0
    all_requests: int = 0  # warm-up included
    server_cpu_ms: float | None = None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values; 0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(q / 100 * len(sorted_values))))
    return float(sorted_values[rank - 1])


def latency_summary(values_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    return {
        "p50": round(percentile(ordered, 50), 3),
        "p90": round(percentile(ordered, 90), 3),
        "p99": round(percentile(ordered, 99), 3),
        "max": round(ordered[-1], 3) if ordered else 0.0,
        "mean": round(sum(ordered) / len(ordered), 3) if ordered else 0.0,
    }


def mangle_email(email: str, rng: random.Random) -> str:
    """The address as a template might send it: random letter case, stray spaces around it."""
    cased = "".join(c.upper() if rng.random() < 0.3 else c for c in email)
    return " " * rng.randint(0, 2) + cased + " " * rng.randint(0, 2)


def sample_keys(serving_dir: Path, n: int = 5000, seed: int = 0) -> KeySample:
    """Random known e-mails and person ids, and the audiences with members, from the snapshot."""
    try:
        db = open_snapshot_db(current_snapshot_path(serving_dir))
    except SnapshotError as exc:
        raise LoadTestError(str(exc)) from None
    try:
        emails = [
            r[0]
            for r in db.execute(
                "select email_key from email_keys order by random() limit ?", (n,)
            ).fetchall()
        ]
        people = [
            r[0]
            for r in db.execute(
                "select person_id from profiles order by random() limit ?", (n,)
            ).fetchall()
        ]
        audiences = [
            r[0] for r in db.execute("select audience_id from audiences where sendable_count > 0")
        ]
    finally:
        db.close()
    if not people:
        raise LoadTestError("the snapshot holds no profiles")
    rng = random.Random(seed)
    rng.shuffle(emails)
    rng.shuffle(people)
    return KeySample(emails, people, audiences)


def process_tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process and its children (Linux /proc); None elsewhere."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                # fields[1] is the parent pid; fields[11], fields[12] utime and stime
                if int(stat.parent.name) == pid or int(fields[1]) == pid:
                    total += int(fields[11]) + int(fields[12])
        return total / ticks
    except (OSError, ValueError):
        return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen | None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LoadTestError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise LoadTestError(f"the server at {url} did not answer /health within {timeout:.0f}s")


@contextlib.contextmanager
def started_server(
    serving_dir: Path, workers: int = 1, log_path: Path | None = None
) -> Iterator[tuple[str, str, int]]:
    """`mailroom serve` in a subprocess on a free port with a one-off key: (url, key, pid)."""
    port = free_port()
    key = secrets.token_urlsafe(32)
    env = {**os.environ, "MAILROOM_API_KEYS": f"loadtest:*:{key}"}
    command = [
        sys.executable, "-m", "mailroom.cli", "serve",
        "--host", "127.0.0.1", "--port", str(port),
        "--serving-dir", str(serving_dir), "--workers", str(workers),
    ]  # fmt: skip
    with contextlib.ExitStack() as stack:
        if log_path is None:
            log_path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "server.log"
        log = stack.enter_context(open(log_path, "wb"))
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url, key, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _request_for(
    kind: str, rng: random.Random, keys: KeySample, walk: list[str | None]
) -> tuple[str, dict[str, str | int]]:
    """(path, query) of one request of the kind; `walk` is the client's audience walk state."""
    if kind == "email" and keys.emails:
        return "/v1/profiles/" + quote(mangle_email(rng.choice(keys.emails), rng), safe=""), {}
    if kind == "unknown":
        return "/v1/profiles/" + quote(f"nobody-{rng.randrange(10**12)}@example.invalid"), {}
    if kind == "audience" and keys.audiences:
        audience, cursor = walk
        if audience is None:
            audience, cursor = rng.choice(keys.audiences), None
            walk[:] = [audience, None]
        params: dict[str, str | int] = {"limit": AUDIENCE_PAGE}
        if cursor:
            params["cursor"] = cursor
        return f"/v1/audiences/{quote(audience, safe='')}", params
    return f"/v1/profiles/{rng.choice(keys.person_ids)}", {}


class Connection:
    """One keep-alive HTTP/1.1 connection: GET requests, Content-Length responses."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self.host, self.port = host, port
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._headers = f"Host: {host}:{port}\r\n{extra}\r\n".encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        """(status, body) of `GET target`; reconnects when the connection was closed."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(b"GET " + target.encode("ascii") + b" HTTP/1.1\r\n" + self._headers)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, length, close = parse_response_head(head)
        body = await self._reader.readexactly(length)
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def parse_response_head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, connection closes) of an HTTP/1.1 response head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if "content-length" not in fields:
        raise ValueError("response without Content-Length")
    return status, int(fields["content-length"]), fields.get("connection", "").lower() == "close"


def _check(kind: str, status: int, body: bytes, walk: list[str | None]) -> str | None:
    """The error of a response (None when it is right); advances the audience walk."""
    if status != 200:
        if kind == "audience":
            walk[:] = [None, None]
        return f"http_{status}"
    if kind == "audience":
        cursor = json.loads(body).get("next_cursor")
        walk[:] = [walk[0], cursor] if cursor else [None, None]
        return None
    expected = b'{"found":false' if kind == "unknown" else b'{"found":true'
    return None if body.startswith(expected) else "wrong_answer"


async def _client(
    connection: Connection,
    keys: KeySample,
    mix: Mapping[str, float],
    rng: random.Random,
    measure_from: float,
    until: float,
    tally: _Tally,
) -> None:
    kinds, weights = list(mix), list(mix.values())
    walk: list[str | None] = [None, None]
    try:
        while (started := time.perf_counter()) < until:
            kind = rng.choices(kinds, weights)[0]
            path, params = _request_for(kind, rng, keys, walk)
            target = f"{path}?{urlencode(params)}" if params else path
            try:
                status, body = await asyncio.wait_for(connection.get(target), REQUEST_TIMEOUT)
                error = _check(kind, status, body, walk)
                label = str(status)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                error = label = type(exc).__name__
                walk[:] = [None, None]
                await connection.close()
            tally.all_requests += 1
            if started >= measure_from:
                tally.latencies.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
                tally.statuses[label] += 1
                if error:
                    tally.errors[f"{kind}:{error}"] += 1
    finally:
        await connection.close()


async def _drive(
    url: str,
    key: str,
    keys: KeySample,
    clients: int,
    duration: float,
    warmup: float,
    mix: Mapping[str, float],
    seed: int,
) -> tuple[_Tally, float]:
    parsed = urlsplit(url)
    if parsed.scheme != "http" or not parsed.hostname:
        raise LoadTestError(f"the load generator speaks plain HTTP: {url} is not an http:// URL")
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    tally = _Tally()
    start = time.perf_counter()
    measure_from, until = start + warmup, start + warmup + duration
    cpu_start = time.process_time()
    await asyncio.gather(
        *(
            _client(
                Connection(parsed.hostname, parsed.port or 80, headers),
                keys,
                mix,
                random.Random(seed * 1000 + i),
                measure_from,
                until,
                tally,
            )
            for i in range(clients)
        )
    )
    tally.cpu_share = (time.process_time() - cpu_start) / (time.perf_counter() - start)
    return tally, time.perf_counter() - measure_from


def _result(url: str, server: str, clients: int, tally: _Tally, seconds: float) -> LoadTestResult:
    everything = [v for values in tally.latencies.values() for v in values]
    return LoadTestResult(
        url=url,
        server=server,
        clients=clients,
        duration_seconds=round(seconds, 3),
        requests=len(everything),
        requests_per_second=round(len(everything) / seconds, 1) if seconds > 0 else 0.0,
        latency_ms=latency_summary(everything),
        errors=sum(tally.errors.values()),
        errors_by_kind=dict(tally.errors),
        requests_by_kind={k: len(v) for k, v in sorted(tally.latencies.items())},
        latency_ms_by_kind={k: latency_summary(v) for k, v in sorted(tally.latencies.items())},
        statuses=dict(tally.statuses),
        client_cpu_share=round(tally.cpu_share, 2),
        server_cpu_ms_per_request=(
            round(tally.server_cpu_ms, 3) if tally.server_cpu_ms is not None else None
        ),
    )


def run_load_test(
    url: str | None = None,
    serving_dir: Path = Path("data/serving"),
    clients: int = 16,
    duration: float = 10.0,
    warmup: float = 1.0,
    workers: int = 1,
    seed: int = 0,
    mix: Mapping[str, float] | None = None,
    api_key: str | None = None,
) -> LoadTestResult:
    """Run the mix against `url` (or a server started here) and return the figures."""
    mix = dict(mix or DEFAULT_MIX)
    keys = sample_keys(serving_dir, seed=seed)
    if url is None:
        with started_server(serving_dir, workers) as (base_url, key, pid):
            cpu_before = process_tree_cpu_seconds(pid)
            tally, seconds = asyncio.run(
                _drive(base_url, key, keys, clients, duration, warmup, mix, seed)
            )
            cpu_after = process_tree_cpu_seconds(pid)
        if cpu_before is not None and cpu_after is not None and tally.all_requests:
            tally.server_cpu_ms = (cpu_after - cpu_before) * 1000 / tally.all_requests
        return _result(base_url, f"started here ({workers} worker(s))", clients, tally, seconds)
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise LoadTestError(
            f"set {API_KEY_ENV} to an API key with both scopes of the server at {url}"
        )
    base_url = url.rstrip("/")
    wait_until_healthy(base_url, None, timeout=10)
    tally, seconds = asyncio.run(_drive(base_url, key, keys, clients, duration, warmup, mix, seed))
    return _result(base_url, "external", clients, tally, seconds)


def print_result(result: LoadTestResult) -> None:
    lat = result.latency_ms
    print(
        f"{result.requests:,} requests in {result.duration_seconds:.1f}s from {result.clients} "
        f"clients against {result.url} ({result.server})\n"
        f"  {result.requests_per_second:,.0f} requests/s; latency ms p50 {lat['p50']} "
        f"p90 {lat['p90']} p99 {lat['p99']} max {lat['max']}; errors {result.errors}; "
        f"load generator CPU {result.client_cpu_share:.0%} of a core"
    )
    if result.server_cpu_ms_per_request is not None:
        print(
            f"  server CPU {result.server_cpu_ms_per_request} ms per request "
            f"(about {1000 / result.server_cpu_ms_per_request:,.0f} requests/s per busy core)"
        )
    for kind, n in result.requests_by_kind.items():
        k = result.latency_ms_by_kind[kind]
        print(f"  {kind:<10}{n:>9,} requests  p50 {k['p50']:>7} ms  p99 {k['p99']:>7} ms")
    for kind, n in sorted(result.errors_by_kind.items()):
        print(f"  error {kind}: {n}")
