"""Load test of the profile API: a realistic request mix, requests/s, latency, errors.

`run_load_test` starts `mailroom serve` on a free 127.0.0.1 port against the
current snapshot (a separate process, with a generated API key) or drives the
running API at `url`, with `clients` concurrent keep-alive connections
(httpx, one asyncio task each) for `duration` seconds after a warm-up. Each
request is drawn from the mix:

- `email`: a known e-mail from the snapshot, randomly re-cased and padded
  with spaces, URL-encoded (must answer `found: true`);
- `person_id`: a known person id (must answer `found: true`);
- `unknown`: an address nobody has (must answer the fallback, `found: false`);
- `audience`: a page of 100 members of an audience, following the previous
  page's `next_cursor` until the walk ends, then another audience.

Any other status, a transport error or a wrong `found` is an error. Keys are
sampled from the snapshot file (so `--url` needs the same snapshot locally).
Figures depend on the machine and its load: this is a benchmark, not a test.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from urllib.parse import quote

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
) -> Iterator[tuple[str, str]]:
    """`mailroom serve` in a subprocess on a free port with a one-off key: (url, key)."""
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
            yield url, key
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


def _check(kind: str, response: httpx.Response, walk: list[str | None]) -> str | None:
    """The error of a response (None when it is right); advances the audience walk."""
    if response.status_code != 200:
        if kind == "audience":
            walk[:] = [None, None]
        return f"http_{response.status_code}"
    if kind == "audience":
        cursor = response.json().get("next_cursor")
        walk[:] = [walk[0], cursor] if cursor else [None, None]
        return None
    expected = b'{"found":false' if kind == "unknown" else b'{"found":true'
    return None if response.content.startswith(expected) else "wrong_answer"


async def _client(
    client: httpx.AsyncClient,
    keys: KeySample,
    mix: Mapping[str, float],
    rng: random.Random,
    measure_from: float,
    until: float,
    tally: _Tally,
) -> None:
    kinds, weights = list(mix), list(mix.values())
    walk: list[str | None] = [None, None]
    while (started := time.perf_counter()) < until:
        kind = rng.choices(kinds, weights)[0]
        path, params = _request_for(kind, rng, keys, walk)
        try:
            response = await client.get(path, params=params)
            error = _check(kind, response, walk)
            status = str(response.status_code)
        except httpx.HTTPError as exc:
            error = status = type(exc).__name__
            walk[:] = [None, None]
        if started >= measure_from:
            tally.latencies.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
            tally.statuses[status] += 1
            if error:
                tally.errors[f"{kind}:{error}"] += 1


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
    tally = _Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {key}"},
        limits=limits,
        timeout=httpx.Timeout(30.0),
    ) as client:
        start = time.perf_counter()
        measure_from, until = start + warmup, start + warmup + duration
        await asyncio.gather(
            *(
                _client(
                    client, keys, mix, random.Random(seed * 1000 + i), measure_from, until, tally
                )
                for i in range(clients)
            )
        )
        measured = time.perf_counter() - measure_from
    return tally, measured


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
        with started_server(serving_dir, workers) as (base_url, key):
            tally, seconds = asyncio.run(
                _drive(base_url, key, keys, clients, duration, warmup, mix, seed)
            )
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
        f"p90 {lat['p90']} p99 {lat['p99']} max {lat['max']}; errors {result.errors}"
    )
    for kind, n in result.requests_by_kind.items():
        k = result.latency_ms_by_kind[kind]
        print(f"  {kind:<10}{n:>9,} requests  p50 {k['p50']:>7} ms  p99 {k['p99']:>7} ms")
    for kind, n in sorted(result.errors_by_kind.items()):
        print(f"  error {kind}: {n}")
