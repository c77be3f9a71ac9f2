"""The profile API over real HTTP: a snapshot of the session's built world, `mailroom serve`
in a subprocess on a free 127.0.0.1 port (uvicorn, httptools, uvloop), httpx as the client.

The marts are the truth every answer is compared with (SQL on the warehouse).
Snapshot edge cases (missing or empty marts, a partial build, a failure
halfway, shared e-mails, pruning) use small real DuckDB warehouses written here.

No verdict depends on how loaded the machine is: a test waits for what it
needs to have happened (`_wait_for`, with a deadline that only stops a hang),
never for a fixed time, and no test asserts how fast something was.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import duckdb
import httpx
import pytest

from mailroom.serve import auth
from mailroom.serve.cursor import (
    AudienceCursor,
    CursorError,
    decode_cursor,
    encode_cursor,
)
from mailroom.serve.keys import parse_profile_key
from mailroom.serve.loadtest import (
    free_port,
    parse_response_head,
    percentile,
    run_load_test,
    wait_until_healthy,
)
from mailroom.serve.models import FallbackProfile, KnownProfile
from mailroom.serve.snapshot import (
    CURRENT_NAME,
    SnapshotError,
    list_snapshots,
    publish_snapshot,
    read_current_name,
    read_snapshot_meta,
    snapshots_to_prune,
)

PROFILES_SECRET = "p" * 8 + "-profiles-only-secret-0001"
FULL_SECRET = "f" * 8 + "-profiles-and-audiences-0002"
API_KEYS = f"templates:profiles:{PROFILES_SECRET};esp_jobs:profiles,audiences:{FULL_SECRET}"
FULL = {"Authorization": f"Bearer {FULL_SECRET}"}
PROFILES_ONLY = {"X-API-Key": PROFILES_SECRET}
UNKNOWN_EMAIL = "nobody-at-all@example.invalid"
LOAD_TEST_KINDS = {"email", "person_id", "unknown", "audience"}
ANSWERED: Counter = Counter()  # answers the module's `client` got: each one is an access line


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Poll until `condition()` holds; the deadline only stops a test that would hang."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not true after {seconds:g} s: {what}"
        time.sleep(0.02)


# --------------------------------------------------------------------------- fixtures


@dataclass
class Server:
    url: str
    serving_dir: Path
    log_files: list[Path]
    process: subprocess.Popen
    snapshot_ids: list[str] = field(default_factory=list)


def _start_server(serving_dir: Path, log_dir: Path, env: dict[str, str]) -> Server:
    port = free_port()
    out, err = log_dir / "server.stdout", log_dir / "server.stderr"
    command = [
        sys.executable, "-m", "mailroom.cli", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--serving-dir", str(serving_dir),
    ]  # fmt: skip
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
    server = Server(f"http://127.0.0.1:{port}", serving_dir, [out, err], process)
    try:
        wait_until_healthy(server.url, process, timeout=60)
    except Exception:
        process.kill()
        raise AssertionError(err.read_text()) from None
    return server


@pytest.fixture(scope="module")
def serving_dir(built_world, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("serving")
    publish_snapshot(built_world.warehouse, directory)
    return directory


@pytest.fixture(scope="module")
def server(serving_dir, tmp_path_factory) -> Iterator[Server]:
    env = {**os.environ, "MAILROOM_API_KEYS": API_KEYS}
    running = _start_server(serving_dir, tmp_path_factory.mktemp("server-logs"), env)
    yield running
    running.process.terminate()
    running.process.wait(timeout=60)


@pytest.fixture(scope="module")
def client(server) -> Iterator[httpx.Client]:
    def count(response: httpx.Response) -> None:
        ANSWERED["client"] += 1

    hooks = {"response": [count]}
    with httpx.Client(base_url=server.url, headers=FULL, timeout=30, event_hooks=hooks) as http:
        yield http


def _one(built_world, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(built_world.warehouse)) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def rich_person(built_world) -> dict:
    """A contactable person with segments, both scores, value, content and an audience."""
    rows = _one(
        built_world,
        """
        select c.person_id, c.email
        from marts.dim_customers c
        where c.is_email_contactable
          and (select count(*) from marts.fct_segment_memberships s where s.person_id = c.person_id) >= 2
          and (select count(*) from marts.fct_propensity_scores p where p.person_id = c.person_id) = 2
          and exists (select 1 from marts.fct_audience_memberships a
                      where a.person_id = c.person_id and a.is_sendable)
        order by c.person_id
        limit 1
        """,
    )
    assert rows, "the test world has a person with segments, two scores and an audience"
    return {"person_id": rows[0][0], "email": rows[0][1]}


def _profile(client: httpx.Client, key: str, **params) -> httpx.Response:
    return client.get("/v1/profiles/" + quote(key, safe=""), params=params)


# --------------------------------------------------------------------------- pure functions


def test_parse_profile_key() -> None:
    assert parse_profile_key("  Ann.Lee@Example.COM ") == parse_profile_key("ann.lee@example.com")
    assert parse_profile_key("  Ann.Lee@Example.COM ").kind == "email"
    assert parse_profile_key("ann.lee@example.com").value == "ann.lee@example.com"
    assert parse_profile_key(" 0a1b2c ").kind == "person_id"
    assert parse_profile_key(" 0a1b2c ").value == "0a1b2c"
    for invalid in ("", "   ", "a\x00b@x.org", "x" * 400 + "@x.org"):
        assert not parse_profile_key(invalid).is_valid
    # e-mails are keyed by mailroom.standardize.normalize_email (tested against the macro in
    # test_standardize.py): a no-break space is trimmed as DuckDB's trim does; a tab is a
    # control character, never looked up
    assert parse_profile_key("\u00a0Ann@X.org\u3000").value == "ann@x.org"
    assert parse_profile_key("\tann@x.org").is_valid is False


def test_cursor_round_trip_and_invalid_cursors() -> None:
    cursor = AudienceCursor("20261001T060000000000Z-abcdef", "win_back", "0f" * 16)
    text = encode_cursor(cursor)
    assert decode_cursor(text) == cursor
    assert "/" not in text and "+" not in text and "=" not in text  # URL-safe as it is
    for bad in ("", "not base64!", "e30", "x" * 600, encode_cursor(cursor)[:-4]):
        with pytest.raises(CursorError):
            decode_cursor(bad)
    wrong_version = encode_cursor(cursor).encode()
    import base64

    payload = json.loads(base64.urlsafe_b64decode(wrong_version + b"=" * (-len(wrong_version) % 4)))
    payload["v"] = 99
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    with pytest.raises(CursorError):
        decode_cursor(forged)


def test_parse_api_keys() -> None:
    keys = auth.parse_api_keys(API_KEYS + ";\n  ops:*:" + "o" * 30 + ":with:colons")
    assert [k.name for k in keys] == ["templates", "esp_jobs", "ops"]
    assert keys[0].scopes == {"profiles"}
    assert keys[1].scopes == {"profiles", "audiences"} == keys[2].scopes
    assert auth.find_key("o" * 30 + ":with:colons", keys).name == "ops"
    assert all(FULL_SECRET not in repr(k) for k in keys)  # only digests are kept
    problems = {
        None: "no API keys configured",
        "  ": "no API keys configured",
        "justasecret": "is not 'name:scopes:secret'",
        "a b:profiles:" + "s" * 30: "the name must be",
        "a:profiles:short": "at least 24 characters",
        "a:admin:" + "s" * 30: "scopes must be",
        f"a:profiles:{'s' * 30};a:audiences:{'t' * 30}": "appears twice",
        f"a:profiles:{'s' * 30};b:audiences:{'s' * 30}": "the same secret is used twice",
    }
    for text, message in problems.items():
        with pytest.raises(auth.ApiKeyConfigError, match=message) as raised:
            auth.parse_api_keys(text)
        assert "s" * 30 not in str(raised.value)


def test_find_key_compares_every_key_in_constant_time(monkeypatch) -> None:
    keys = auth.parse_api_keys(API_KEYS + f";third:audiences:{'t' * 40}")
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    for presented, expected in [
        (PROFILES_SECRET, "templates"),  # the first key matches: the others are still compared
        (FULL_SECRET, "esp_jobs"),
        ("t" * 40, "third"),
        ("wrong-" * 6, None),
        ("x", None),  # a short key is hashed: digests of equal length are compared
    ]:
        calls.clear()
        found = auth.find_key(presented, keys)
        assert (found.name if found else None) == expected
        assert calls == [(32, 32)] * len(keys)
    assert auth.find_key(None, keys) is None and auth.find_key("", keys) is None
    assert auth.presented_key(f"Bearer {FULL_SECRET}", "other") == FULL_SECRET
    assert auth.presented_key(f"bearer  {FULL_SECRET} ", None) == FULL_SECRET
    assert auth.presented_key("Basic abc", PROFILES_SECRET) == PROFILES_SECRET
    assert auth.presented_key(None, None) is None


def test_snapshots_to_prune_keeps_the_newest_and_the_current() -> None:
    names = [f"snapshot-2026100{i}T000000000000Z-00000{i}.sqlite" for i in range(1, 6)]
    assert snapshots_to_prune(names, names[-1], 2) == names[:3]
    assert snapshots_to_prune(names, names[0], 2) == names[1:3]
    assert snapshots_to_prune([*names, "CURRENT", "notes.txt"], None, 5) == []


def test_parse_response_head() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 12\r\n\r\n"
    assert parse_response_head(head) == (200, 12, False)
    closing = b"HTTP/1.1 503 Service Unavailable\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n"
    assert parse_response_head(closing) == (503, 0, True)
    with pytest.raises(ValueError, match="Content-Length"):
        parse_response_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")


def test_parse_flag() -> None:
    from mailroom.serve.app import ApiError, parse_flag

    assert parse_flag(None, "fallback", default=True) is True
    assert parse_flag(" FALSE ", "fallback", default=True) is False
    assert parse_flag("1", "fallback", default=False) is True
    with pytest.raises(ApiError) as raised:
        parse_flag("maybe", "fallback", default=True)
    assert (raised.value.status, raised.value.code) == (422, "invalid_request")


def test_percentile() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile(values, 100) == 100 and percentile([], 50) == 0.0
    assert percentile([3.0], 90) == 3.0


# --------------------------------------------------------------------------- auth and errors


def test_auth_failures_and_both_header_styles(server, client, rich_person) -> None:
    path = "/v1/profiles/" + rich_person["person_id"]
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        missing = anonymous.get(path)
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert missing.json()["error"]["code"] == "unauthorized"
        for headers in (
            {"Authorization": "Bearer not-a-key-that-anyone-configured"},
            {"X-API-Key": "not-a-key-that-anyone-configured"},
            {"Authorization": f"Bearer {FULL_SECRET}x"},
        ):
            wrong = anonymous.get(path, headers=headers)
            assert wrong.status_code == 401, headers
            assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
            assert wrong.json()["error"]["status"] == 401
        forbidden = anonymous.get("/v1/audiences/win_back", headers=PROFILES_ONLY)
        assert forbidden.status_code == 403
        assert forbidden.json()["error"]["code"] == "forbidden"
        for headers in (
            {"Authorization": f"Bearer {PROFILES_SECRET}"},
            {"X-API-Key": PROFILES_SECRET},
            {"Authorization": f"Bearer {FULL_SECRET}"},
            {"X-API-Key": FULL_SECRET},
        ):
            assert anonymous.get(path, headers=headers).status_code == 200, headers
        assert (
            anonymous.get("/v1/audiences/win_back", headers={"X-API-Key": FULL_SECRET}).status_code
            == 200
        )
        assert anonymous.get("/health").status_code == 200  # no key needed


def test_errors_are_json_everywhere(client) -> None:
    unknown_route = client.get("/v2/profiles/" + quote(UNKNOWN_EMAIL))
    assert unknown_route.status_code == 404
    assert unknown_route.json() == {
        "error": {"status": 404, "code": "not_found", "message": "no such route"}
    }
    not_allowed = client.post("/v1/profiles/abc")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"] == "GET"
    assert not_allowed.json()["error"]["code"] == "method_not_allowed"
    bad_flag = client.get("/v1/profiles/abc", params={"fallback": "maybe"})
    assert bad_flag.status_code == 422
    assert bad_flag.json()["error"]["code"] == "invalid_request"


def test_openapi_and_health(server, client, serving_dir) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/v1/profiles/{key}", "/v1/audiences/{audience_id}", "/health"}
    for model in ("KnownProfile", "FallbackProfile", "AudiencePage", "ErrorResponse", "Health"):
        assert model in schema["components"]["schemas"]
    profile_200 = schema["paths"]["/v1/profiles/{key}"]["get"]["responses"]["200"]
    refs = {r["$ref"] for r in profile_200["content"]["application/json"]["schema"]["anyOf"]}
    assert refs == {"#/components/schemas/KnownProfile", "#/components/schemas/FallbackProfile"}
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "api_key_header"}
    assert schema["paths"]["/v1/audiences/{audience_id}"]["get"]["security"] == [
        {"bearer": []},
        {"api_key_header": []},
    ]
    assert "security" not in schema["paths"]["/health"]["get"]
    parameters = schema["paths"]["/v1/profiles/{key}"]["get"]["parameters"]
    assert [(p["name"], p["in"], p["required"]) for p in parameters] == [
        ("key", "path", True),
        ("fallback", "query", False),
    ]
    assert client.get("/docs").status_code == 200

    health = httpx.get(f"{server.url}/health").json()
    meta = read_snapshot_meta(serving_dir / read_current_name(serving_dir))
    assert health["status"] == "ok"
    assert health["snapshot"]["snapshot_id"] == meta["snapshot_id"]
    assert health["snapshot"]["as_of_date"] == meta["as_of_date"] is not None
    assert health["snapshot"]["row_counts"]["profiles"] == meta["row_counts"]["profiles"] > 1000
    assert health["snapshot"]["source_warehouse"] == "warehouse.duckdb"  # the name, not the path
    assert health["snapshot"]["missing_marts"] == []


# --------------------------------------------------------------------------- profiles


def test_profile_by_email_and_person_id_equals_the_marts(built_world, client, rich_person) -> None:
    person_id, email = rich_person["person_id"], rich_person["email"]
    shouted = "  " + "".join(c.upper() if i % 2 else c for i, c in enumerate(email)) + " "
    by_email = _profile(client, shouted)
    by_id = _profile(client, person_id)
    assert by_email.status_code == by_id.status_code == 200
    assert by_email.content == by_id.content  # the very same document
    assert by_email.headers["X-Mailroom-Snapshot"]
    body = KnownProfile.model_validate_json(by_id.content)
    assert body.found and body.person_id == person_id

    customer = _one(
        built_world,
        "select lifecycle_stage, email_contactability, is_email_contactable, primary_segment_id, "
        "cluster_label, as_of_date from marts.dim_customers where person_id = ?",
        [person_id],
    )[0]
    assert (
        body.lifecycle_stage,
        body.email_contactability,
        body.is_email_contactable,
        body.primary_segment_id,
        body.cluster_label,
        body.as_of_date,
    ) == customer
    segments = _one(
        built_world,
        "select segment_id from marts.fct_segment_memberships where person_id = ? "
        "order by segment_priority, segment_id",
        [person_id],
    )
    assert body.segment_ids == [s for (s,) in segments]
    assert body.segment_ids[0] == body.primary_segment_id

    scores = _one(
        built_world,
        "select model_name, score, decile, tier, model_version, reason_1, reasons_text "
        "from marts.fct_propensity_scores where person_id = ?",
        [person_id],
    )
    assert set(body.scores) == {m for m, *_ in scores}
    for model, score, decile, tier, version, reason, text in scores:
        served = body.scores[model]
        assert served.score == pytest.approx(score, abs=1e-12)
        assert (served.decile, served.tier, served.model_version) == (decile, tier, version)
        assert served.reasons[:1] == ([reason] if reason else [])
        assert served.reasons_text == text

    value = _one(
        built_world,
        "select expected_orders, expected_revenue, expected_next_order_date "
        "from marts.fct_customer_value where person_id = ?",
        [person_id],
    )[0]
    assert body.value.expected_orders == pytest.approx(value[0])
    assert body.value.expected_revenue == pytest.approx(value[1])
    assert body.value.expected_next_order_date == value[2]

    recommendations = _one(
        built_world,
        "select recommendation_rank, product_id, product_name, recommendation_source "
        "from marts.fct_recommendations where person_id = ? order by 1",
        [person_id],
    )
    assert [(r.rank, r.product_id, r.product_name, r.source) for r in body.recommendations] == [
        tuple(r) for r in recommendations
    ]
    assert len(body.recommendations) >= 1

    content = _one(
        built_world,
        "select rule_id, content_block, offer_code, template_id, subject_line, preheader, "
        "first_name, fallback_variables from marts.fct_content_selections where person_id = ?",
        [person_id],
    )[0]
    served = body.content
    assert (
        served.rule_id,
        served.content_block,
        served.offer_code,
        served.template_id,
        served.subject_line,
        served.preheader,
        served.variables.first_name,
    ) == content[:7]
    assert served.fallback_variables == [v for v in (content[7] or "").split("|") if v]

    send = _one(
        built_world,
        "select best_send_hour_utc, send_hour_source, is_frequency_capped, is_fatigued, "
        "sends_remaining_7d from marts.fct_send_preferences where person_id = ?",
        [person_id],
    )[0]
    assert (
        body.send.best_send_hour_utc,
        body.send.send_hour_source,
        body.send.is_frequency_capped,
        body.send.is_fatigued,
        body.send.sends_remaining_7d,
    ) == send

    audiences = _one(
        built_world,
        "select audience_id from marts.fct_audience_memberships "
        "where person_id = ? and is_sendable order by 1",
        [person_id],
    )
    assert body.audience_ids == [a for (a,) in audiences] != []


def test_every_person_is_served_as_the_marts_say(built_world, client) -> None:
    """A random fifth of the world: content, send hour, primary segment and top recommendation."""
    rows = _one(
        built_world,
        """
        select c.person_id, c.email, c.primary_segment_id, s.subject_line, p.best_send_hour_utc,
               r.product_id
        from marts.dim_customers c
        left join marts.fct_content_selections s on s.person_id = c.person_id
        left join marts.fct_send_preferences p on p.person_id = c.person_id
        left join marts.fct_recommendations r
            on r.person_id = c.person_id and r.recommendation_rank = 1
        """,
    )
    for person_id, email, segment, subject, hour, top in random.Random(3).sample(
        rows, len(rows) // 5
    ):
        key = f" {email.upper()} " if email else person_id
        body = _profile(client, key).json()
        assert body["found"] and body["person_id"] == person_id
        assert body["primary_segment_id"] == segment
        assert body["content"]["subject_line"] == subject
        assert body["send"]["best_send_hour_utc"] == hour
        assert (
            body["recommendations"][0]["product_id"] if body["recommendations"] else None
        ) == top


def test_unknown_profile_gets_the_documented_fallback(built_world, client) -> None:
    answer = _profile(client, UNKNOWN_EMAIL)
    assert answer.status_code == 200
    fallback = FallbackProfile.model_validate_json(answer.content)
    assert fallback.found is False and fallback.person_id is None
    assert fallback.segment_ids == [] and fallback.audience_ids == [] and fallback.value is None
    assert fallback.scores and all(score is None for score in fallback.scores.values())

    popular = _one(
        built_world,
        "select product_id, product_name from marts.fct_popular_products order by popularity_rank",
    )
    assert [(r.product_id, r.product_name) for r in fallback.recommendations] == popular
    assert {r.source for r in fallback.recommendations} == {"popularity"}
    default = _one(
        built_world,
        "select rule_id, content_block, subject_line, preheader, best_send_hour_utc "
        "from marts.dim_profile_fallback",
    )[0]
    assert (
        fallback.content.rule_id,
        fallback.content.content_block,
        fallback.content.subject_line,
        fallback.content.preheader,
        fallback.send.best_send_hour_utc,
    ) == default
    texts = dict(
        _one(built_world, "select variable, fallback_value from staging.content_fallbacks")
    )
    assert any(
        texts[v] in fallback.content.subject_line for v in fallback.content.fallback_variables
    )
    population = _one(
        built_world,
        "select distinct best_send_hour_utc from marts.fct_send_preferences "
        "where send_hour_source = 'population'",
    )
    assert population == [(fallback.send.best_send_hour_utc,)]

    # the same bytes for any unknown key, whatever its kind
    for key in ("0" * 32, "  Nobody.Else@Example.Invalid ", "a\x01b"):
        assert _profile(client, key).content == answer.content
    not_found = _profile(client, UNKNOWN_EMAIL, fallback="false")
    assert not_found.status_code == 404
    assert not_found.json()["error"]["code"] == "profile_not_found"


def test_erased_people_get_the_fallback_and_nothing_else(built_world, client) -> None:
    erased = _one(
        built_world,
        "select person_id, deletion_email from intermediate.int_privacy__erased_persons",
    )
    emails = [e for (e,) in _one(built_world, "select email from marts.sync_esp__deletions")]
    raw = [
        e
        for (e,) in _one(
            built_world, "select email from raw.privacy_erasure_requests where email is not null"
        )
    ]
    assert erased and emails, "the test world has erased people"
    unknown = _profile(client, UNKNOWN_EMAIL)
    unknown_404 = _profile(client, UNKNOWN_EMAIL, fallback="false")
    for key in [p for p, _ in erased] + [e for _, e in erased if e] + emails + raw:
        assert _profile(client, key).content == unknown.content
        answer = _profile(client, key, fallback="false")
        assert (answer.status_code, answer.content) == (404, unknown_404.content)


# --------------------------------------------------------------------------- audiences


def _walk(client: httpx.Client, audience_id: str, limit: int) -> tuple[list[dict], set[str]]:
    members, snapshots, cursor = [], set(), None
    for _ in range(10_000):
        params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/audiences/{audience_id}", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["members"]) <= limit
        members += body["members"]
        snapshots.add(page.headers["X-Mailroom-Snapshot"])
        cursor = body["next_cursor"]
        if cursor is None:
            return members, snapshots
    raise AssertionError("the walk never ended")


def test_pagination_walks_every_sendable_member_once(built_world, client) -> None:
    audiences = _one(
        built_world,
        "select audience_id, sendable_count from marts.dim_audiences where sendable_count > 0 "
        "order by sendable_count desc",
    )
    assert audiences
    for audience_id, sendable in audiences:
        expected = _one(
            built_world,
            "select m.person_id, c.email, m.audience_rank from marts.fct_audience_memberships m "
            "join marts.dim_customers c using (person_id) "
            "where m.audience_id = ? and m.is_sendable order by m.person_id",
            [audience_id],
        )
        members, _ = _walk(client, audience_id, limit=max(1, sendable // 4 - 1))
        ids = [m["person_id"] for m in members]
        assert len(ids) == len(set(ids)) == sendable  # no duplicates, no gaps
        assert [(m["person_id"], m["email"], m["audience_rank"]) for m in members] == expected

    first = client.get("/v1/audiences/" + audiences[0][0], params={"limit": 1}).json()
    assert first["sendable_count"] == audiences[0][1] and len(first["members"]) == 1
    assert client.get("/v1/audiences/" + audiences[0][0]).json()["limit"] == 100


def test_audience_errors_are_json_4xx(built_world, client) -> None:
    audience = _one(built_world, "select audience_id from marts.dim_audiences order by 1")[0][0]
    other = _one(built_world, "select audience_id from marts.dim_audiences order by 1 desc")[0][0]
    for limit in ("0", "1001", "-5", "ten"):
        answer = client.get(f"/v1/audiences/{audience}", params={"limit": limit})
        assert answer.status_code == 422, limit
        assert answer.json()["error"]["code"] == "invalid_request"
    for cursor in ("garbage", "e30", "x" * 1000):
        answer = client.get(f"/v1/audiences/{audience}", params={"cursor": cursor})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_cursor"
    snapshot_id = client.get("/health").json()["snapshot"]["snapshot_id"]
    foreign = encode_cursor(AudienceCursor(snapshot_id, other, "0"))
    assert client.get(f"/v1/audiences/{audience}", params={"cursor": foreign}).status_code == 400
    gone = encode_cursor(AudienceCursor("20000101T000000000000Z-000000", audience, "0"))
    answer = client.get(f"/v1/audiences/{audience}", params={"cursor": gone})
    assert answer.status_code == 410 and answer.json()["error"]["code"] == "cursor_expired"
    missing = client.get("/v1/audiences/no_such_audience")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "audience_not_found"
    empty = _one(
        built_world, "select audience_id from marts.dim_audiences where sendable_count = 0"
    )
    for (audience_id,) in empty:  # an audience nobody is in today is empty, not unknown
        body = client.get(f"/v1/audiences/{audience_id}").json()
        assert body["members"] == [] and body["next_cursor"] is None


# --------------------------------------------------------------------------- snapshots while serving


def test_a_held_warehouse_write_lock_does_not_block_the_api(
    built_world, client, serving_dir
) -> None:
    with duckdb.connect(str(built_world.warehouse)) as con:
        con.execute("begin transaction")
        con.execute("create table marts.api_lock_probe as select 1 as x")  # a build in progress
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import duckdb; duckdb.connect({str(built_world.warehouse)!r}, read_only=True)",
            ],
            capture_output=True,
            text=True,
        )
        assert probe.returncode != 0 and "lock" in probe.stderr.lower()  # the file really is locked
        # Answered while the lock is held (a blocked server would never answer before the
        # rollback below: the client would time out); how fast is not the question.
        for key in (UNKNOWN_EMAIL, "0" * 32):
            assert _profile(client, key).status_code == 200
        assert client.get("/health").status_code == 200
        before = read_current_name(serving_dir)
        publish = subprocess.run(
            [sys.executable, "-m", "mailroom.cli", "snapshot",
             "--warehouse", str(built_world.warehouse), "--serving-dir", str(serving_dir)],
            capture_output=True,
            text=True,
        )  # fmt: skip
        assert publish.returncode == 1
        assert "locked by another process" in publish.stderr
        assert read_current_name(serving_dir) == before
        assert not list(serving_dir.glob(".building-*"))
        con.execute("rollback")


def test_republishing_under_load_switches_without_errors(
    built_world, server, serving_dir, rich_person
) -> None:
    before = httpx.get(f"{server.url}/health").json()["snapshot"]["snapshot_id"]
    stop = threading.Event()
    outcomes: list[tuple[int, int | str, str, bool]] = []  # thread, status, snapshot, right

    def hammer(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=server.url, headers=FULL, timeout=30) as http:
            while not stop.is_set():
                key = rng.choice(
                    [rich_person["email"].upper(), rich_person["person_id"], UNKNOWN_EMAIL]
                )
                try:
                    answer = _profile(http, key)
                    found = answer.json()["found"]
                    outcomes.append(
                        (
                            seed,
                            answer.status_code,
                            answer.headers["X-Mailroom-Snapshot"],
                            found == (key != UNKNOWN_EMAIL),
                        )
                    )
                except (httpx.HTTPError, ValueError, KeyError) as exc:
                    outcomes.append((seed, type(exc).__name__, "", False))

    def every_thread_served(snapshot_id: str) -> bool:
        """Every thread has had an answer from this snapshot (or something went wrong)."""
        seen = list(outcomes)
        wrong = any(status != 200 or not right for _, status, _, right in seen)
        return wrong or {t for t, _, s, _ in seen if s == snapshot_id} == set(range(len(threads)))

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        # Waits on what happened, never on the clock: every thread is answered from the old
        # snapshot before the publish; after it, every thread is answered from the new one,
        # so every request still to come starts after the switch (the server switches once
        # per request, for good) and the last answers are all from the new snapshot.
        _wait_for(lambda: every_thread_served(before), "every thread served the old snapshot")
        published = publish_snapshot(built_world.warehouse, serving_dir)
        after = read_snapshot_meta(published)["snapshot_id"]
        _wait_for(lambda: every_thread_served(after), "every thread served the new snapshot")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert after != before
    assert outcomes and all(status == 200 and right for _, status, _, right in outcomes), {
        o for o in outcomes if o[1] != 200 or not o[3]
    }
    served = [s for _, _, s, _ in outcomes]
    assert served[0] == before and served[-1] == after
    assert set(served) == {before, after}
    assert httpx.get(f"{server.url}/health").json()["snapshot"]["snapshot_id"] == after


def test_an_audience_walk_stays_on_its_snapshot(built_world, client, serving_dir) -> None:
    audience_id, sendable = _one(
        built_world,
        "select audience_id, sendable_count from marts.dim_audiences order by sendable_count desc limit 1",
    )[0]
    first = client.get(f"/v1/audiences/{audience_id}", params={"limit": 5}).json()
    publish_snapshot(built_world.warehouse, serving_dir)  # a new snapshot halfway through the walk
    new_id = read_snapshot_meta(serving_dir / read_current_name(serving_dir))["snapshot_id"]
    members, cursor, snapshots = list(first["members"]), first["next_cursor"], set()
    while cursor:
        page = client.get(f"/v1/audiences/{audience_id}", params={"limit": 50, "cursor": cursor})
        snapshots.add(page.headers["X-Mailroom-Snapshot"])
        members += page.json()["members"]
        cursor = page.json()["next_cursor"]
    assert snapshots == {first["snapshot_id"]} != {new_id}
    assert len({m["person_id"] for m in members}) == len(members) == sendable
    fresh = client.get(f"/v1/audiences/{audience_id}", params={"limit": 5})
    assert fresh.headers["X-Mailroom-Snapshot"] == new_id


def test_the_load_test_runs_and_reports(server, serving_dir) -> None:
    # How many requests fit in a second depends on the machine's load, so no count is
    # asserted: runs are repeated (a loaded machine needs more) until every kind of request
    # has been measured.
    kinds: set[str] = set()
    deadline = time.monotonic() + 120
    while kinds != LOAD_TEST_KINDS:
        assert time.monotonic() < deadline, f"kinds measured in 120 s: {sorted(kinds)}"
        result = run_load_test(
            url=server.url,
            serving_dir=serving_dir,
            clients=4,
            duration=1.0,
            warmup=0.2,
            api_key=FULL_SECRET,
        )
        assert result.errors == 0, result.errors_by_kind
        assert set(result.requests_by_kind) <= LOAD_TEST_KINDS
        assert sum(result.requests_by_kind.values()) == result.requests
        assert json.dumps(result.to_dict())
        if result.requests:
            lat = result.latency_ms
            assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
            assert set(result.statuses) == {"200"} and result.requests_per_second > 0
        kinds |= set(result.requests_by_kind)


def test_the_server_logs_hold_no_personal_data(built_world, server, client) -> None:
    """After all the traffic above: no e-mail or person_id (of anyone) in stdout or stderr."""
    expected = {
        "a profile answered for esp_jobs": lambda line: (
            "GET /v1/profiles/{key} 200" in line and "key=esp_jobs" in line
        ),
        "an audience refused to templates": lambda line: (
            "/v1/audiences/{audience_id} 403" in line and "key=templates" in line
        ),
        "an unmatched path": lambda line: "GET unmatched 404" in line,
        "the OpenAPI document": lambda line: "GET /openapi.json 200" in line,
    }

    def logged() -> tuple[str, list[str]]:
        text = "\n".join(path.read_text(errors="replace") for path in server.log_files)
        return text, [line for line in text.splitlines() if "mailroom.serve.access" in line]

    # The kinds of lines checked below, requested here too: the module's other tests
    # may have run in another pytest worker, against that worker's server.
    person = _one(built_world, "select person_id from marts.dim_customers limit 1")[0][0]
    client.get(f"/v1/profiles/{person}")
    client.get("/not-a-route")
    client.get("/openapi.json")
    with httpx.Client(base_url=server.url, timeout=30) as templates:
        templates.get(
            "/v1/audiences/win_back", headers={"Authorization": f"Bearer {PROFILES_SECRET}"}
        )

    def complete() -> bool:
        _, access = logged()
        return len(access) >= ANSWERED["client"] and all(
            any(check(line) for line in access) for check in expected.values()
        )

    # A line is written once its answer has gone out: wait until the lines are there.
    _wait_for(complete, "the access lines of the traffic above")
    text, access = logged()
    # every answer this worker's client got is a line (the module's other tests add
    # hundreds when they run in this worker)
    assert ANSWERED["client"] >= 3 and len(access) >= ANSWERED["client"]
    for what, check in expected.items():
        assert any(check(line) for line in access), what
    people = _one(built_world, "select person_id, email from marts.dim_customers")
    erased = _one(built_world, "select email from marts.sync_esp__deletions")
    identifiers = {p for p, _ in people} | {e for _, e in people if e} | {e for (e,) in erased}
    identifiers |= {UNKNOWN_EMAIL, "nobody-at-all", FULL_SECRET, PROFILES_SECRET}
    lowered = text.lower()
    leaked = sorted(i for i in identifiers if i.lower() in lowered)
    assert leaked == []
    assert "@" not in text


# --------------------------------------------------------------------------- startup and failures


def test_serve_refuses_to_start_without_keys_or_snapshot(
    tmp_path, serving_dir, monkeypatch
) -> None:
    base = {k: v for k, v in os.environ.items() if k != "MAILROOM_API_KEYS"}
    command = [sys.executable, "-m", "mailroom.cli", "serve", "--port", str(free_port())]
    no_keys = subprocess.run(
        [*command, "--serving-dir", str(serving_dir)],
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_keys.returncode == 2
    assert "cannot start the profile API: no API keys configured" in no_keys.stderr
    from mailroom.serve.app import create_app
    from mailroom.serve.server import check_startup

    monkeypatch.setenv("MAILROOM_API_KEYS", API_KEYS)
    assert check_startup(serving_dir).name == read_current_name(serving_dir)
    for check in (
        lambda: check_startup(tmp_path / "empty"),
        lambda: create_app(tmp_path / "empty", auth.parse_api_keys(API_KEYS)),
    ):
        with pytest.raises(
            SnapshotError, match=r"no serving snapshot in .* run `mailroom snapshot`"
        ):
            check()


def test_an_unhandled_error_is_a_json_500_without_data(serving_dir, caplog) -> None:
    """A snapshot connection that breaks under the app (a bug) answers 500 JSON, logs no data."""
    import uvicorn

    from mailroom.serve.app import create_app

    app = create_app(serving_dir, auth.parse_api_keys(API_KEYS))
    app.state.store.current().db.close()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free_port(), log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://{config.host}:{config.port}"
        _wait_started(server)
        answer = httpx.get(f"{url}/v1/profiles/{quote(UNKNOWN_EMAIL)}", headers=FULL)
        assert answer.status_code == 500
        assert answer.json() == {
            "error": {"status": 500, "code": "internal_error", "message": "internal error"}
        }
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert "ProgrammingError on /v1/profiles/{key}" in caplog.text
    assert "@" not in caplog.text


def _wait_started(server) -> None:
    _wait_for(lambda: server.started, "uvicorn started")


# --------------------------------------------------------------------------- snapshot edge cases


AS_OF = dt.date(2026, 9, 30)


def _tiny_warehouse(path: Path, emails: list[str | None], extra_sql: str = "") -> Path:
    """A warehouse with only the two required marts (and what extra_sql adds)."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.dim_customers (person_id varchar, email varchar, "
            "lifecycle_stage varchar, email_contactability varchar, is_email_contactable boolean, "
            "primary_segment_id varchar, cluster_label varchar, as_of_date date)"
        )
        con.executemany(
            "insert into marts.dim_customers values (?, ?, 'prospect', ?, ?, null, null, ?)",
            [
                (f"p{i}", e, "contactable" if e else "no_email", bool(e), AS_OF)
                for i, e in enumerate(emails)
            ],
        )
        con.execute(
            "create table marts.dim_profile_fallback as select 'unknown_profile' as fallback_id, "
            "'default' as rule_id, 'newsletter' as content_block, null::varchar as offer_code, "
            "'newsletter' as template_id, 'Hi friend' as subject_line, 'our best sellers' as preheader, "
            "'first_name' as fallback_variables, 'default' as send_hour_source, "
            f"18 as best_send_hour_utc, 3 as frequency_cap_7d, date '{AS_OF}' as as_of_date"
        )
        if extra_sql:
            con.execute(extra_sql)
    return path


def test_a_warehouse_without_email_data_or_optional_marts_publishes_with_warnings(tmp_path) -> None:
    warehouse = _tiny_warehouse(tmp_path / "warehouse.duckdb", [None, None])
    published = publish_snapshot(warehouse, tmp_path / "serving")
    meta = read_snapshot_meta(published)
    assert meta["row_counts"]["profiles"] == 2 and meta["row_counts"]["email_keys"] == 0
    assert "fct_recommendations" in meta["missing_marts"]
    assert any("person_id only" in w for w in meta["warnings"])
    assert any("marts.fct_send_preferences is missing" in w for w in meta["warnings"])
    from mailroom.serve.store import Snapshot

    snapshot = Snapshot(published)
    document = KnownProfile.model_validate_json(snapshot.profile(parse_profile_key("p1")))
    assert document.recommendations == [] and document.scores == {}
    assert document.content.subject_line == "Hi friend"  # the fallback's content and send hour
    assert document.send.best_send_hour_utc == 18
    assert FallbackProfile.model_validate_json(snapshot.fallback_bytes).recommendations == []
    assert os.stat(published).st_mode & 0o222 == 0  # read-only
    snapshot.close()


def test_missing_required_marts_or_a_partial_build_are_refused(tmp_path) -> None:
    empty = tmp_path / "empty.duckdb"
    with duckdb.connect(str(empty)) as con:
        con.execute("create schema marts")
    with pytest.raises(
        SnapshotError, match=r"marts\.dim_customers, marts\.dim_profile_fallback not found"
    ):
        publish_snapshot(empty, tmp_path / "serving")
    with pytest.raises(SnapshotError, match="not found: run `mailroom build` first"):
        publish_snapshot(tmp_path / "nowhere.duckdb", tmp_path / "serving")
    stale = _tiny_warehouse(
        tmp_path / "stale.duckdb",
        ["a@example.org"],
        "create table marts.fct_send_preferences as select 'p0' as person_id, 'personal' as "
        "send_hour_source, 9 as best_send_hour_utc, 3 as frequency_cap_7d, 0 as emails_delivered_7d, "
        "3 as sends_remaining_7d, false as is_frequency_capped, false as is_fatigued, "
        "date '2026-09-29' as as_of_date",
    )
    with pytest.raises(SnapshotError, match="disagree on the as-of date"):
        publish_snapshot(stale, tmp_path / "serving")
    assert not (tmp_path / "serving" / CURRENT_NAME).exists()
    assert list_snapshots(tmp_path / "serving") == []


def test_a_failed_publish_never_becomes_current(tmp_path) -> None:
    good = _tiny_warehouse(tmp_path / "good.duckdb", ["a@example.org", "b@example.org"])
    serving = tmp_path / "serving"
    first = publish_snapshot(good, serving)
    # a score without a tier: the document breaks the API schema halfway through the profiles
    bad = _tiny_warehouse(
        tmp_path / "bad.duckdb",
        ["a@example.org", "b@example.org"],
        "create table marts.fct_propensity_scores as select * from (values "
        "('p0', 'purchase', 0.5, 1, 'high', 'v1', null, null, null, null), "
        "('p1', 'purchase', 0.4, 2, null, 'v1', null, null, null, null)) "
        "t(person_id, model_name, score, decile, tier, model_version, reason_1, reason_2, "
        "reason_3, reasons_text)",
    )
    with pytest.raises(
        SnapshotError,
        match=r"profile document 2 does not match the API schema \(fields: scores.purchase.tier\)",
    ):
        publish_snapshot(bad, serving)
    assert read_current_name(serving) == first.name
    assert list_snapshots(serving) == [first]
    assert not list(serving.glob(".building-*")) and not list(serving.glob(".CURRENT*"))


def test_shared_emails_are_not_served_and_old_snapshots_are_pruned(tmp_path) -> None:
    warehouse = _tiny_warehouse(
        tmp_path / "warehouse.duckdb", ["same@example.org", " Same@Example.org ", "own@example.org"]
    )
    serving = tmp_path / "serving"
    published = [publish_snapshot(warehouse, serving, keep=2) for _ in range(4)]
    assert list_snapshots(serving) == published[-2:]
    assert read_current_name(serving) == published[-1].name
    meta = read_snapshot_meta(published[-1])
    assert meta["row_counts"]["email_keys"] == 1 and meta["row_counts"]["ambiguous_email_keys"] == 1
    from mailroom.serve.store import Snapshot

    snapshot = Snapshot(published[-1])
    assert snapshot.profile(parse_profile_key("SAME@example.org")) is None
    assert b'"person_id":"p2"' in snapshot.profile(parse_profile_key(" OWN@example.org"))
    snapshot.close()


@pytest.mark.parametrize("command", ["snapshot", "serve", "load-test"])
def test_each_serving_command_explains_itself(command: str) -> None:
    from typer.testing import CliRunner

    from mailroom.cli import app

    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--serving-dir" in result.output
