"""`mailroom sync`: incremental, exactly-once delivery to fake Klaviyo and Mailchimp servers.

The servers (tests/python/esp_servers.py) speak real HTTP on 127.0.0.1 and
record what they applied, so every test can check that each changed row
landed exactly once, nothing was lost, and a second run on unchanged data
makes no request at all.

No verdict depends on how fast the machine is: the fakes decide every fault
themselves (a held request is never answered, so the client's timeout always
fires; a dropped connection is dropped before or after applying, as asked),
an ordinary answer has seconds to arrive, and a test waits for a condition
(`wait_for`), never for a fixed time.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import duckdb
import httpx
import pytest
from typer.testing import CliRunner

from mailroom import PROJECT_DIR
from mailroom.cli import app
from mailroom.sync import ConfigError, load_config, run_sync
from mailroom.sync.config import (
    FileSettings,
    HttpSettings,
    KlaviyoSettings,
    MailchimpSettings,
    SyncConfig,
)
from mailroom.sync.http import DeliveryError, RetryingClient, retry_after_seconds, sanitize
from mailroom.sync.mailchimp import merge_tags
from mailroom.sync.report import print_report
from mailroom.sync.source import DELETIONS, lookup_addresses, membership_key, read_stream, sha256

sys.path.insert(0, str(Path(__file__).parent))
from esp_servers import FakeKlaviyo, FakeMailchimp, subscriber_hash

KLAVIYO_KEY = "pk_test"
MAILCHIMP_KEY = "abc123-us6"
LIST_ID = "list1"
# Fast retries, but an ordinary answer has all the time a loaded machine needs: a client
# timeout on it would resend a request the fake applied, and the exactly-once checks fail.
FAST_HTTP = HttpSettings(
    timeout_seconds=10,
    max_attempts=8,
    max_rate_limited=40,
    base_delay_seconds=0.002,
    max_delay_seconds=0.02,
)
# For the tests whose fake holds requests (`timeout_next`): each held request costs the
# client this long, and ends in a timeout however loaded the machine (it is never answered).
HOLD_HTTP = replace(FAST_HTTP, timeout_seconds=2)

PROFILE_SQL = """
create or replace table marts.sync_esp__profiles as
select
    'person' || lpad(i::varchar, 5, '0') || '@example.com' as email,
    'p' || i as person_id,
    'Firstname' || i as first_name,
    'Lastname' || i as last_name,
    case when i % 3 = 0 then null else '+44770' || lpad(i::varchar, 6, '0') end as phone_number,
    'GB' as country_code,
    '["frequent_buyers", "high_openers"]' as segments,
    'cluster_' || (i % 4) as cluster_name,
    ((i % 100) / 100.0)::double as purchase_score,
    'high' as purchase_tier,
    0.25::double as churn_score,
    case when i % 5 = 0 then null else 'low' end as churn_tier,
    123.45::double as predicted_revenue_365d,
    (i % 7)::integer as orders_lifetime,
    99.5::double as revenue_lifetime,
    timestamp '2026-09-01 10:00:00' + to_hours(i) as last_order_at,
    (i % 24)::integer as best_send_hour_utc,
    (i % 10 = 0) as is_fatigued,
    'block_a' as content_block,
    'SAVE10' as offer_code,
    'Hello there' as subject_line,
    'Our picks' as preheader,
    '["sku1", "sku2"]' as recommended_products,
    case when i % 2 = 0 then '["vip"]' else '[]' end as audiences,
    timestamp '2026-01-01 00:00:00' as consent_updated_at
from range({n}) as t(i)
"""


class Warehouse:
    def __init__(self, path: Path) -> None:
        self.path = path

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(query, params or []).fetchall()

    def emails(self) -> list[str]:
        return [r[0] for r in self.sql("select email from marts.sync_esp__profiles order by 1")]

    def every_address(self) -> set[str]:
        rows = self.sql(
            "select email from marts.dim_customers union select email from marts.sync_esp__deletions"
        )
        return {r[0] for r in rows}

    def state_dump(self) -> str:
        parts = []
        for table in ("records", "runs", "audit"):
            parts.append(str(self.sql(f"select * from sync_state.{table}")))
        return "\n".join(parts)

    def records(self, status: str | None = None, stream: str = "profiles") -> int:
        q = "select count(*) from sync_state.records where stream = ?"
        params = [stream]
        if status:
            q += " and status = ?"
            params.append(status)
        return self.sql(q, params)[0][0]


def build_marts(path: Path, n: int = 300) -> Warehouse:
    wh = Warehouse(path)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(PROFILE_SQL.format(n=n))
        con.execute(
            """
            create or replace table marts.sync_esp__audience_memberships as
            select 'vip' as audience_key, email, person_id,
                timestamp '2026-09-01 00:00:00' as entered_at
            from marts.sync_esp__profiles where person_id[2:]::integer % 2 = 0
            union all
            select 'winback', email, person_id, timestamp '2026-09-15 00:00:00'
            from marts.sync_esp__profiles where person_id[2:]::integer % 5 = 0
            """
        )
        con.execute(
            "create or replace table marts.sync_esp__deletions "
            "(email varchar, reason varchar, requested_at timestamp)"
        )
        # Where removals find the address of someone who left the profiles mart.
        con.execute(
            "create or replace table marts.dim_customers as "
            "select email, first_name from marts.sync_esp__profiles"
        )
    return wh


@pytest.fixture()
def wh(tmp_path: Path) -> Warehouse:
    return build_marts(tmp_path / "warehouse.duckdb")


def klaviyo_cfg(
    wh: Warehouse, server: FakeKlaviyo, http: HttpSettings = FAST_HTTP, **klaviyo
) -> SyncConfig:
    settings = {
        "api_key": KLAVIYO_KEY,
        "base_url": server.base_url,
        "batch_size": 64,
        "poll_interval_seconds": 0.001,
    }
    settings.update(klaviyo)
    return SyncConfig(
        destination="klaviyo",
        warehouse=wh.path,
        http=http,
        klaviyo=KlaviyoSettings(**settings),
    ).validate()


def mailchimp_cfg(
    wh: Warehouse, server: FakeMailchimp, http: HttpSettings = FAST_HTTP, **mailchimp
) -> SyncConfig:
    settings = {
        "api_key": MAILCHIMP_KEY,
        "list_id": LIST_ID,
        "base_url": server.base_url,
        "batch_size": 100,
    }
    settings.update(mailchimp)
    return SyncConfig(
        destination="mailchimp",
        warehouse=wh.path,
        http=http,
        mailchimp=MailchimpSettings(**settings),
    ).validate()


def assert_no_personal_data(wh: Warehouse, *texts: str) -> None:
    """No address or name in sync_state, nor in any captured output."""
    dump = wh.state_dump()
    for address in wh.every_address() | {"not-an-email"}:
        assert address not in dump
        for text in texts:
            assert address not in text
    assert "Firstname" not in dump and "Lastname" not in dump
    for text in texts:
        assert "Firstname" not in text and "Lastname" not in text


def assert_reconciled(report) -> None:
    for stream, counts in report.streams.items():
        assert counts.reconciled, (stream, counts)


def assert_forgotten(wh: Warehouse, erased: list[str]) -> None:
    """Of an erased person, state keeps the deletions record (key hash only) and the audit
    row of the acknowledged erasure: no profile or membership record, no other audit row."""
    subjects = [hashlib.sha256(e.encode()).hexdigest() for e in erased]
    keys = subjects + [membership_key(a, e) for e in erased for a in ("vip", "winback")]
    records = wh.sql(
        "select stream, status, esp_id, group_key, last_error from sync_state.records "
        "where subject_hash in (select unnest(?)) or key_hash in (select unnest(?))",
        [subjects, keys],
    )
    assert records == [("deletions", "deleted", None, None, None)] * len(erased)
    audit = wh.sql(
        "select stream, operation, status, error from sync_state.audit "
        "where key_hash in (select unnest(?))",
        [keys],
    )
    assert audit == [("deletions", "delete", "acknowledged", None)] * len(erased)


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    """Poll until `condition()` holds; the deadline only stops a test that would hang."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not true after {seconds:g} s"
        time.sleep(0.01)


def imported_once(server: FakeKlaviyo, emails: list[str]) -> None:
    counts = {e: server.applied[("import", e)] for e in emails}
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}


# -- Klaviyo ------------------------------------------------------------------------------------


def test_klaviyo_first_run_delivers_each_profile_once_then_nothing(
    wh: Warehouse, capsys, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailroom.sync")
    with FakeKlaviyo() as k:
        report = run_sync(klaviyo_cfg(wh, k))
        print_report(report)
        assert report.status == "succeeded" and report.exit_code == 0
        assert k.import_sizes == [64, 64, 64, 64, 44]  # batch_size override splits
        imported_once(k, wh.emails())
        assert k.revisions == {"2024-10-15"}

        profile = k.profiles["person00007@example.com"]
        assert profile["external_id"] == "p7"
        assert profile["first_name"] == "Firstname7" and profile["phone_number"] == "+44770000007"
        assert profile["location"] == {"country": "GB"}
        props = profile["properties"]
        assert props["segments"] == ["frequent_buyers", "high_openers"]
        assert props["recommended_products"] == ["sku1", "sku2"] and props["audiences"] == []
        assert props["last_order_at"] == "2026-09-01T17:00:00Z"
        assert props["orders_lifetime"] == 0 and props["is_fatigued"] is False
        assert "phone_number" not in k.profiles["person00003@example.com"]  # null left out
        assert "churn_tier" not in k.profiles["person00005@example.com"]["properties"]

        counts = report.streams["profiles"]
        assert (counts.source_rows, counts.created, counts.failed) == (300, 300, 0)
        assert report.streams["audience_memberships"].not_sent == 210
        assert "audiences travel as the `audiences` profile property" in report.notes[0]
        assert_reconciled(report)

        before = len(k.requests)
        again = run_sync(klaviyo_cfg(wh, k))
        print_report(again)
        assert len(k.requests) == before  # unchanged data: no HTTP call at all
        assert again.http_requests == 0 and again.streams["profiles"].unchanged == 300
        assert_reconciled(again)

    assert wh.records("acknowledged") == 300
    runs = wh.sql("select status, created, unchanged from sync_state.runs order by started_at")
    assert runs == [("succeeded", 300, 0), ("succeeded", 0, 300)]
    audit = wh.sql("select operation, status, count(*) from sync_state.audit group by 1, 2")
    assert audit == [("create", "acknowledged", 300)]
    assert_no_personal_data(wh, capsys.readouterr().out, caplog.text)


def test_klaviyo_survives_rate_limit_storm_5xx_and_a_dropped_connection(wh: Warehouse) -> None:
    with FakeKlaviyo() as k:
        k.rate_limit_storm(3, retry_after="0.2")
        k.fail_next([500, 502, 503, 504])
        k.disconnect_next(1, methods=("POST",))  # closed unanswered, before it is applied
        k.random_errors(0.15)
        report = run_sync(klaviyo_cfg(wh, k))
        assert k.faults_served[429] == 3 and k.faults_served["disconnect"] == 1
        assert k.retry_after_violations == 0  # no retry before its announced time
        assert sum(k.faults_served[s] for s in (500, 502, 503)) >= 3
        # An import job is created by every POST: the dropped request was not applied, so
        # exactly one import of each profile is what must have happened.
        imported_once(k, wh.emails())
        assert report.http_retries >= sum(k.faults_served.values()) + k.rate_limit_enforced
        assert report.streams["profiles"].created == 300 and report.status == "succeeded"
        assert_reconciled(report)
        k.clear_faults()
        before = len(k.requests)
        run_sync(klaviyo_cfg(wh, k))
        assert len(k.requests) == before


@pytest.mark.parametrize("mode", ["request", "request_no_pointer"])
def test_klaviyo_isolates_an_invalid_profile_in_a_rejected_batch(
    wh: Warehouse, mode: str, capsys
) -> None:
    wh.sql("update marts.sync_esp__profiles set email = 'not-an-email' where person_id = 'p37'")
    with FakeKlaviyo(invalid_mode=mode) as k:
        report = run_sync(klaviyo_cfg(wh, k))
        print_report(report)
        good = [e for e in wh.emails() if e != "not-an-email"]
        imported_once(k, good)
        assert "not-an-email" not in k.profiles
        counts = report.streams["profiles"]
        assert (counts.created, counts.invalid, counts.failed) == (299, 1, 0)
        assert_reconciled(report)
        rejected = k.count("POST", "/api/profile-bulk-import-jobs") - len(k.import_sizes)
        # the pointer splits straight to the culprit; without one, bisection (log2 64 = 6)
        assert rejected == (2 if mode == "request" else 7)

        invalid_key = hashlib.sha256(b"not-an-email").hexdigest()
        row = wh.sql(
            "select a.status, a.http_status, a.error from sync_state.audit a where key_hash = ?",
            [invalid_key],
        )
        assert row[0][:2] == ("invalid", 400) and "not-an-email" not in row[0][2]

        before = len(k.requests)
        again = run_sync(klaviyo_cfg(wh, k))
        assert len(k.requests) == before  # an unchanged invalid row is not re-sent
        assert again.streams["profiles"].invalid == 1

        wh.sql(
            "update marts.sync_esp__profiles set email = 'fixed37@example.com' where person_id = 'p37'"
        )
        fixed = run_sync(klaviyo_cfg(wh, k))
        assert (
            fixed.streams["profiles"].created == 1
            and k.applied[("import", "fixed37@example.com")] == 1
        )
    assert_no_personal_data(wh, capsys.readouterr().out)


def test_klaviyo_import_errors_mark_profiles_invalid(wh: Warehouse) -> None:
    wh.sql(
        "update marts.sync_esp__profiles set phone_number = '0770 123' where person_id in ('p4', 'p40')"
    )
    with FakeKlaviyo(invalid_mode="import_errors") as k:
        report = run_sync(klaviyo_cfg(wh, k))
        counts = report.streams["profiles"]
        assert (counts.created, counts.invalid) == (298, 2)
        assert k.count("GET", "/api/profile-bulk-import-jobs/job-1/import-errors") == 2  # paged
        assert_reconciled(report)
    errors = wh.sql("select error from sync_state.audit where status = 'invalid'")
    assert len(errors) == 2 and all("0770 123" not in e[0] for e in errors)
    assert_no_personal_data(wh)


def test_klaviyo_unmatched_import_errors_fail_the_rest_of_the_job(tmp_path: Path) -> None:
    wh = build_marts(tmp_path / "small.duckdb", n=20)
    wh.sql(
        "update marts.sync_esp__profiles set phone_number = '0770 123' where person_id in ('p4', 'p14')"
    )
    with FakeKlaviyo(invalid_mode="import_errors") as k:
        k.unmatchable_errors = 1  # failed_count 2, one error names its profile (p14)
        report = run_sync(klaviyo_cfg(wh, k))
        counts = report.streams["profiles"]
        assert (counts.created, counts.invalid, counts.failed) == (0, 1, 19)
        assert report.status == "partial" and report.exit_code == 1
        assert_reconciled(report)
        k.unmatchable_errors = 0
        report = run_sync(klaviyo_cfg(wh, k))  # the 19 are imported again: p4 is now named
        counts = report.streams["profiles"]
        assert (counts.created, counts.invalid, counts.failed) == (18, 2, 0)
        assert report.exit_code == 0 and len(k.profiles) == 18


def test_klaviyo_import_error_pages_stay_on_the_api_host_and_are_capped(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr("mailroom.sync.klaviyo.MAX_ERROR_PAGES", 3)
    wh = build_marts(tmp_path / "small.duckdb", n=20)
    wh.sql("update marts.sync_esp__profiles set phone_number = '0770' where person_id = 'p4'")
    with FakeKlaviyo(invalid_mode="import_errors") as k, FakeKlaviyo() as elsewhere:
        k.error_next_link = f"{elsewhere.base_url}/api/profile-bulk-import-jobs/job-1/import-errors"
        report = run_sync(klaviyo_cfg(wh, k))
        assert elsewhere.requests == []  # the API key never left for another host
        assert report.streams["profiles"].failed == 20
        k.error_next_link = f"{k.base_url}/api/profile-bulk-import-jobs/job-2/import-errors"
        before = k.count("GET", "/api/profile-bulk-import-jobs/job-2/import-errors")
        report = run_sync(klaviyo_cfg(wh, k))  # a next link that never ends: 3 pages read
        assert k.count("GET", "/api/profile-bulk-import-jobs/job-2/import-errors") == before + 3
        assert report.streams["profiles"].failed == 20 and report.exit_code == 1
    errors = wh.sql("select distinct last_error from sync_state.records")
    assert errors == [("import errors unreadable: import errors: more than 3 pages",)]


def test_a_rejected_erasure_fails_and_is_sent_again(tmp_path: Path) -> None:
    wh = build_marts(tmp_path / "small.duckdb", n=20)
    wh.sql(
        "insert into marts.sync_esp__deletions values "
        "('not-an-email', 'erasure request', timestamp '2026-09-29 00:00:00'), "
        "('person00003@example.com', 'erasure request', timestamp '2026-09-29 00:00:00')"
    )
    with FakeKlaviyo() as k:
        for run in (1, 2):
            report = run_sync(klaviyo_cfg(wh, k))  # Klaviyo answers 400 to the bad address
            d = report.streams["deletions"]
            assert (d.deleted, d.failed, d.invalid, d.unchanged) == (2 - run, 1, 0, run - 1)
            assert report.status == "partial" and report.exit_code == 1
            assert k.count("POST", "/api/data-privacy-deletion-jobs") == 1 + run
    with FakeMailchimp(latency=0) as m:
        m.fail_next([400], methods=("POST",))  # the first POST: an erasure (sent first)
        report = run_sync(mailchimp_cfg(wh, m))
        d = report.streams["deletions"]
        assert (d.deleted, d.failed, d.invalid) == (1, 1, 0) and report.exit_code == 1
        report = run_sync(mailchimp_cfg(wh, m))
        assert report.streams["deletions"].deleted == 1 and report.exit_code == 0
    assert wh.sql(
        "select destination, status from sync_state.records "
        "where stream = 'deletions' order by 1, 2"
    ) == [
        ("klaviyo", "deleted"),
        ("klaviyo", "failed"),
        ("mailchimp", "deleted"),
        ("mailchimp", "deleted"),
    ]
    assert_no_personal_data(wh)


def test_retry_after_beyond_the_cap_fails_the_rows_without_resending(tmp_path: Path) -> None:
    wh = build_marts(tmp_path / "small.duckdb", n=20)
    capped = HttpSettings(timeout_seconds=10, max_retry_after_seconds=1)
    with FakeKlaviyo() as k:
        k.rate_limit_storm(1, retry_after="5")
        report = run_sync(klaviyo_cfg(wh, k, http=capped, batch_size=5))
        assert report.streams["profiles"].failed == 20 and report.exit_code == 1
        assert len(k.requests) == 1 and k.retry_after_violations == 0  # the rest never sent
        assert k.profiles == {}
        k.clear_faults()  # the 5 seconds are over
        report = run_sync(klaviyo_cfg(wh, k, http=capped, batch_size=5))
        assert report.streams["profiles"].created == 20 and report.exit_code == 0


def test_klaviyo_update_removal_and_erasure(wh: Warehouse) -> None:
    with FakeKlaviyo() as k:
        run_sync(klaviyo_cfg(wh, k))
        wh.sql(
            "update marts.sync_esp__profiles set purchase_tier = 'top' "
            "where person_id in ('p1', 'p2', 'p3', 'p4', 'p5')"
        )
        gone = ["person00010@example.com", "person00011@example.com", "person00012@example.com"]
        wh.sql("delete from marts.sync_esp__profiles where email in (select unnest(?))", [gone])
        erased = ["person00020@example.com", "person00021@example.com", "never.synced@example.org"]
        wh.sql(
            "insert into marts.sync_esp__deletions select unnest(?), 'erasure request', "
            "timestamp '2026-09-29 00:00:00'",
            [erased],
        )
        imports_before = len(k.import_sizes)
        report = run_sync(klaviyo_cfg(wh, k))

        assert k.import_sizes[imports_before:] == [5]  # only the changed rows
        assert all(
            k.profiles[f"person0000{i}@example.com"]["properties"]["purchase_tier"] == "top"
            for i in range(1, 6)
        )
        assert k.suppressed == set(gone) and all(k.applied[("suppress", e)] == 1 for e in gone)
        assert sorted(k.erased) == sorted(erased)
        assert k.count("POST", "/api/data-privacy-deletion-jobs") == 3  # one profile per request
        p = report.streams["profiles"]
        assert (p.updated, p.removed, p.suppressed, p.unchanged) == (5, 3, 2, 290)
        assert report.streams["deletions"].deleted == 3
        assert_reconciled(report)

        assert_forgotten(wh, erased)
        assert wh.records() == 298 and wh.records("removed") == 3
        assert wh.records("deleted") == 0 and wh.records("deleted", stream="deletions") == 3

        # State written before erasures forgot people: a profile row only marked deleted.
        p20 = hashlib.sha256(b"person00020@example.com").hexdigest()
        wh.sql(
            "insert into sync_state.records (destination, stream, key_hash, subject_hash, "
            "status, attempts) values ('klaviyo', 'profiles', ?, ?, 'deleted', 1)",
            [p20, p20],
        )
        wh.sql(
            "insert into sync_state.audit (destination, stream, key_hash, operation, status) "
            "values ('klaviyo', 'profiles', ?, 'create', 'acknowledged')",
            [p20],
        )
        before = len(k.requests)
        again = run_sync(klaviyo_cfg(wh, k))
        assert len(k.requests) == before  # erasures are never repeated
        assert again.streams["deletions"].unchanged == 3
        assert all(k.applied[("erase", e)] == 1 for e in erased)
    assert_forgotten(wh, erased)
    assert_no_personal_data(wh)


def test_mass_delete_guard_refuses_but_lets_erasures_through(
    wh: Warehouse, tmp_path: Path, monkeypatch
) -> None:
    with FakeKlaviyo() as k:
        run_sync(klaviyo_cfg(wh, k))
        state_before = wh.sql("select * from sync_state.records order by key_hash")
        wh.sql("delete from marts.sync_esp__profiles where person_id[2:]::integer < 90")  # 30%
        wh.sql("update marts.sync_esp__profiles set offer_code = 'NEW' where person_id = 'p100'")
        wh.sql(
            "insert into marts.sync_esp__deletions values "
            "('person00200@example.com', 'erasure request', timestamp '2026-09-29 00:00:00')"
        )
        config = tmp_path / "sync.yml"
        config.write_text(
            "http: {timeout_seconds: 10, base_delay_seconds: 0.002, max_delay_seconds: 0.02}\n"
            "klaviyo: {poll_interval_seconds: 0.001}\n"
        )
        monkeypatch.setenv("WAREHOUSE_PATH", str(wh.path))
        monkeypatch.setenv("KLAVIYO_API_KEY", KLAVIYO_KEY)
        monkeypatch.setenv("MAILROOM_KLAVIYO_BASE_URL", k.base_url)
        before = len(k.requests)
        result = CliRunner().invoke(app, ["sync", "-d", "klaviyo", "--config", str(config)])
        assert result.exit_code == 3, result.output
        said = " ".join(result.output.split())
        assert "mass-delete guard: profiles: 90 removals are 30.0% of the 300 keys" in said
        assert "1 erasures sent (legally required, never blocked by the guard)" in said
        # Nothing but the one erasure was sent: no import, no suppression.
        assert k.requests[before:] == [("POST", "/api/data-privacy-deletion-jobs")]
        assert k.applied[("import", "person00100@example.com")] == 1
        erased_key = hashlib.sha256(b"person00200@example.com").hexdigest()
        state_after = [r for r in wh.sql("select * from sync_state.records order by key_hash")]
        assert [r for r in state_after if r[1] == "profiles" and r[2] != erased_key] == [
            r for r in state_before if r[2] != erased_key
        ]
        assert_no_personal_data(wh, result.output)

        result = CliRunner().invoke(
            app, ["sync", "-d", "klaviyo", "--config", str(config), "--max-delete-share", "0.5"]
        )
        assert result.exit_code == 0, result.output
        assert len(k.suppressed) == 90 and k.applied[("import", "person00100@example.com")] == 2
        assert k.count("POST", "/api/data-privacy-deletion-jobs") == 1


def test_dry_run_reports_the_plan_and_sends_nothing(wh: Warehouse) -> None:
    with FakeKlaviyo() as k:
        plan = run_sync(klaviyo_cfg(wh, k), dry_run=True)
        assert plan.status == "dry-run" and plan.streams["profiles"].planned_creates == 300
        assert k.requests == [] and wh.records() == 0
        assert_reconciled(plan)

        run_sync(klaviyo_cfg(wh, k))
        snapshot = wh.sql("select * from sync_state.records order by key_hash")
        wh.sql(
            "update marts.sync_esp__profiles set preheader = 'x' where person_id in ('p1', 'p2')"
        )
        wh.sql("delete from marts.sync_esp__profiles where person_id = 'p3'")
        wh.sql(
            "insert into marts.sync_esp__deletions values "
            "('person00004@example.com', 'erasure request', timestamp '2026-09-29 00:00:00')"
        )
        before = len(k.requests)
        plan = run_sync(klaviyo_cfg(wh, k), dry_run=True)
        p, d = plan.streams["profiles"], plan.streams["deletions"]
        assert (p.planned_creates, p.planned_updates, p.planned_removes) == (0, 2, 1)
        assert (p.suppressed, d.planned_deletes) == (1, 1)
        assert len(k.requests) == before
        assert wh.sql("select * from sync_state.records order by key_hash") == snapshot
    modes = wh.sql("select mode, status from sync_state.runs order by started_at")
    assert modes == [("dry-run", "dry-run"), ("live", "succeeded"), ("dry-run", "dry-run")]


class Killed(Exception):
    pass


def test_run_stopped_between_batches_resumes_with_the_remainder(wh: Warehouse) -> None:
    def kill_after_two(stream: str, batch: int) -> None:
        if batch == 2:
            raise Killed

    with FakeKlaviyo() as k:
        with pytest.raises(Killed):
            run_sync(klaviyo_cfg(wh, k, batch_size=50), on_batch=kill_after_two)
        assert len(k.applied) == 100 and wh.records("acknowledged") == 100
        report = run_sync(klaviyo_cfg(wh, k, batch_size=50))
        assert report.streams["profiles"].created == 200
        assert report.streams["profiles"].unchanged == 100
        assert k.import_sizes == [50] * 6
        imported_once(k, wh.emails())
    runs = wh.sql("select status from sync_state.runs order by started_at")
    assert runs == [("interrupted",), ("succeeded",)]


KILL_SCRIPT = """
import os, sys
from pathlib import Path
from mailroom.sync import run_sync
from mailroom.sync.config import HttpSettings, KlaviyoSettings, SyncConfig
cfg = SyncConfig(
    destination="klaviyo", warehouse=Path(sys.argv[1]), http=HttpSettings(timeout_seconds=10),
    klaviyo=KlaviyoSettings(api_key="pk_test", base_url=sys.argv[2], batch_size=40,
                            poll_interval_seconds=0.001),
)
run_sync(cfg, on_batch=lambda stream, n: os._exit(9) if n == 3 else None)
"""


def test_process_killed_between_batches_resumes_with_the_remainder(wh: Warehouse) -> None:
    with FakeKlaviyo() as k:
        done = subprocess.run(
            [sys.executable, "-c", KILL_SCRIPT, str(wh.path), k.base_url],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 9, done.stderr
        assert len(k.applied) == 120
        report = run_sync(klaviyo_cfg(wh, k, batch_size=40))
        assert (report.streams["profiles"].created, report.streams["profiles"].unchanged) == (
            180,
            120,
        )
        imported_once(k, wh.emails())
    runs = wh.sql("select status from sync_state.runs order by started_at")
    assert runs == [("abandoned",), ("succeeded",)]  # the killed run, seen by the next one


def test_failed_rows_are_kept_and_retried_next_run(wh: Warehouse) -> None:
    with FakeKlaviyo() as k:
        k.fail_next([503] * 100, methods=("POST",))
        report = run_sync(klaviyo_cfg(wh, k))
        assert report.status == "partial" and report.exit_code == 1
        assert report.streams["profiles"].failed == 300 and k.applied == {}
        assert_reconciled(report)
        assert wh.records("failed") == 300
        k.clear_faults()
        report = run_sync(klaviyo_cfg(wh, k))
        assert report.streams["profiles"].created == 300 and report.status == "succeeded"
        imported_once(k, wh.emails())
    assert wh.sql("select distinct attempts from sync_state.records") == [(2,)]


def test_undone_failed_update_and_unresolvable_removal(wh: Warehouse) -> None:
    p1 = hashlib.sha256(b"person00001@example.com").hexdigest()
    with FakeKlaviyo() as k:
        run_sync(klaviyo_cfg(wh, k))
        wh.sql("update marts.sync_esp__profiles set offer_code = 'NEW' where person_id = 'p1'")
        k.fail_next([503] * 8, methods=("POST",))
        assert run_sync(klaviyo_cfg(wh, k)).streams["profiles"].failed == 1
        # The change is undone in the mart: Klaviyo still holds the acknowledged payload.
        wh.sql("update marts.sync_esp__profiles set offer_code = 'SAVE10' where person_id = 'p1'")
        before = len(k.requests)
        report = run_sync(klaviyo_cfg(wh, k))
        assert len(k.requests) == before and report.streams["profiles"].unchanged == 300
        assert wh.sql("select status from sync_state.records where key_hash = ?", [p1]) == [
            ("acknowledged",)
        ]

        # A removal whose address the lookup cannot find fails, and is retried next run.
        wh.sql("delete from marts.sync_esp__profiles where person_id = 'p2'")
        wh.sql("delete from marts.dim_customers where first_name = 'Firstname2'")
        report = run_sync(klaviyo_cfg(wh, k))
        assert report.streams["profiles"].remove_failed == 1 and report.exit_code == 1
        assert k.suppressed == set()
        wh.sql("insert into marts.dim_customers values ('person00002@example.com', 'Firstname2')")
        report = run_sync(klaviyo_cfg(wh, k))
        assert report.streams["profiles"].removed == 1 and report.exit_code == 0
        assert k.suppressed == {"person00002@example.com"}
        assert_reconciled(report)
    assert_no_personal_data(wh)


def test_klaviyo_real_caps_10000_profiles_and_5_megabytes(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "caps.duckdb")
    with duckdb.connect(str(wh.path)) as con:
        con.execute("create schema marts")
        # Only the identity columns: the sync does not need the optional ones.
        con.execute(
            "create table marts.sync_esp__profiles as select 'c' || i || '@example.com' as email, "
            "'p' || i as person_id from range(10001) t(i)"
        )
        con.execute(
            "create table marts.sync_esp__deletions (email varchar, reason varchar, requested_at timestamp)"
        )
    slow_ok = HttpSettings(timeout_seconds=30)  # a 10,000-profile request may take a while
    with FakeKlaviyo() as k:
        report = run_sync(klaviyo_cfg(wh, k, http=slow_ok, batch_size=10_000))
        assert k.import_sizes == [10_000, 1]
        assert report.streams["profiles"].created == 10_001
        wh = Warehouse(tmp_path / "big.duckdb")
        with duckdb.connect(str(wh.path)) as con:
            con.execute("create schema marts")
            con.execute(
                "create table marts.sync_esp__deletions "
                "(email varchar, reason varchar, requested_at timestamp)"
            )
            con.execute(
                "create table marts.sync_esp__profiles as "
                "select 'big' || i || '@example.com' as email, 'p' || i as person_id, "
                "repeat('x', case when i = 0 then 150000 else 90000 end) as content_block "
                "from range(61) t(i)"
            )
        report = run_sync(klaviyo_cfg(wh, k, http=slow_ok, batch_size=10_000))
        sizes = k.import_sizes[2:]
        assert sum(sizes) == 60 and len(sizes) == 2  # 60 x 90 KB split by the 5 MB cap
        assert max(k.import_bytes[2:]) <= 5_000_000
        assert report.streams["profiles"].invalid == 1  # the 150 KB profile, never sent
        assert report.streams["profiles"].created == 60


# -- Mailchimp ----------------------------------------------------------------------------------


def test_mailchimp_members_merge_fields_tags_and_concurrency(wh: Warehouse, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="mailroom.sync")
    with FakeMailchimp() as m:
        report = run_sync(mailchimp_cfg(wh, m))
        assert report.status == "succeeded"
        assert len(m.members) == 300
        assert set(m.applied[("upsert", e)] for e in wh.emails()) == {1}
        member = m.members[subscriber_hash("person00007@example.com")]
        merge = member["merge_fields"]
        assert member["status"] == "subscribed"
        assert (merge["FNAME"], merge["LNAME"], merge["PERSONID"]) == (
            "Firstname7",
            "Lastname7",
            "p7",
        )
        assert merge["PSCORE"] == 0.07 and merge["SEGMENTS"] == "frequent_buyers, high_openers"
        assert merge["LASTORDER"] == "2026-09-01T17:00:00Z" and merge["CTIER"] == "low"
        assert m.members[subscriber_hash("person00005@example.com")]["merge_fields"]["CTIER"] == ""
        assert m.merge_fields["PSCORE"]["type"] == "number"
        assert m.merge_fields["CLUSTER"]["type"] == "text"
        assert m.count("GET", f"/3.0/lists/{LIST_ID}/merge-fields") == 1

        tags = {h: rec["tags"] for h, rec in m.members.items()}
        assert tags[subscriber_hash("person00010@example.com")] == {"vip", "winback"}
        assert tags[subscriber_hash("person00007@example.com")] == set()
        memberships = report.streams["audience_memberships"]
        assert (memberships.source_rows, memberships.created) == (210, 210)
        assert 1 < m.max_in_flight <= 10 and m.too_many_connections == 0
        assert_reconciled(report)

        before = len(m.requests)
        again = run_sync(mailchimp_cfg(wh, m))
        assert len(m.requests) == before and again.http_requests == 0
    assert_no_personal_data(wh, caplog.text)


def test_mailchimp_survives_faults_and_isolates_an_invalid_member(
    wh: Warehouse, tmp_path: Path, caplog, capsys
) -> None:
    caplog.set_level(logging.DEBUG, logger="mailroom.sync")
    reference = build_marts(tmp_path / "reference.duckdb")
    for w in (wh, reference):
        w.sql("update marts.sync_esp__profiles set email = 'not-an-email' where person_id = 'p40'")
        w.sql(
            "update marts.sync_esp__audience_memberships set email = 'not-an-email' "
            "where person_id = 'p40'"
        )
    with FakeMailchimp(latency=0) as clean:  # the same rows, no fault: what Mailchimp must hold
        assert run_sync(mailchimp_cfg(reference, clean)).exit_code == 0
    held = ["person00008@example.com", "person00009@example.com"]
    lost = "person00007@example.com"
    tagged = subscriber_hash("person00010@example.com")  # vip and winback
    with FakeMailchimp() as m:
        m.rate_limit_storm(4, retry_after="0.2", methods=("PUT",))  # hits the 10 workers
        m.fail_next([500, 502, 503, 504])
        for email in held:  # never answered, never applied: the client times out and retries
            m.timeout_next(1, methods=("PUT",), where=subscriber_hash(email))
        m.lose_answer_next(1, methods=("PUT",), where=subscriber_hash(lost))  # applied, then cut
        m.disconnect_next(1, methods=("POST",), where=f"{tagged}/tags")  # cut, not applied
        m.random_errors(0.05)
        report = run_sync(mailchimp_cfg(wh, m, http=HOLD_HTTP))
        print_report(report)
        # A PUT is an idempotent upsert and a tag POST sets a status: after a timeout or a
        # lost answer the retry may apply the request again, which the protocol allows. What
        # it guarantees: every member created once, ending with exactly the fields and tags of
        # its latest row, as if nothing had failed.
        good = [e for e in wh.emails() if e != "not-an-email"]
        assert all(m.applied[("upsert", e)] >= 1 for e in good)
        assert m.applied[("upsert", lost)] >= 2  # applied, its answer lost, applied again
        assert set(m.created) == set(good) and set(m.created.values()) == {1}
        assert m.members == clean.members
        p, a = report.streams["profiles"], report.streams["audience_memberships"]
        assert (p.created, p.invalid, p.failed) == (299, 1, 0)
        assert (a.created, a.skipped) == (208, 2)  # its two memberships wait for a member
        assert m.faults_served[429] == 4 and m.faults_served["timeout"] == 2
        assert m.faults_served["lost"] == m.faults_served["disconnect"] == 1
        assert m.retry_after_violations == 0  # no retry sent before its announced time
        # Every request the client gave up on is in the report: the two held ones at least
        # (more only if an ordinary answer took over HOLD_HTTP's timeout, which is allowed).
        wait_for(lambda: m.abandoned == 2)
        assert report.http_timeouts >= m.abandoned
        assert report.http_retries >= sum(m.faults_served.values()) + m.rate_limit_enforced
        said = " ".join(capsys.readouterr().out.split())
        assert f"({report.http_retries:,} retries, {report.http_timeouts:,} timed out)" in said
        assert_reconciled(report)
        error = wh.sql("select error from sync_state.audit where status = 'invalid'")[0][0]
        assert error == "HTTP 400; Invalid Resource"  # never the detail that echoes the address
        m.clear_faults()
        before = len(m.requests)
        run_sync(mailchimp_cfg(wh, m))
        assert len(m.requests) == before
    assert_no_personal_data(wh, caplog.text, said)


def test_a_held_request_times_out_unapplied_and_is_counted() -> None:
    email = "held@example.com"
    path = f"/3.0/lists/{LIST_ID}/members/{subscriber_hash(email)}"
    body = {"email_address": email, "status_if_new": "subscribed", "merge_fields": {}}
    with FakeMailchimp(latency=0) as m:
        m.timeout_next(1, methods=("PUT",))
        once = replace(HOLD_HTTP, max_attempts=1)
        client = RetryingClient(m.base_url, once, auth=("mailroom", MAILCHIMP_KEY))
        with pytest.raises(DeliveryError, match="timeout after 1 attempts"):
            client.request("PUT", path, json=body)
        assert (client.requests, client.retries, client.timeouts) == (1, 0, 1)
        client.close()
        # The server saw the client give up, and let the request go.
        wait_for(lambda: m.abandoned == 1 and m.in_flight == 0)
        assert m.faults_served["timeout"] == 1 and m.members == {} and not m.applied


def test_mailchimp_update_archive_untag_and_erase(wh: Warehouse) -> None:
    with FakeMailchimp() as m:
        run_sync(mailchimp_cfg(wh, m))
        wh.sql(
            "update marts.sync_esp__profiles set subject_line = 'New' where person_id in ('p1', 'p2', 'p3')"
        )
        removed = ["person00030@example.com", "person00031@example.com"]  # p30 is vip + winback
        wh.sql("delete from marts.sync_esp__profiles where email in (select unnest(?))", [removed])
        wh.sql(
            "delete from marts.sync_esp__audience_memberships where email in (select unnest(?))",
            [removed],
        )
        wh.sql(
            "delete from marts.sync_esp__audience_memberships "
            "where email = 'person00050@example.com' and audience_key = 'winback'"
        )
        erased = ["person00060@example.com", "never.synced@example.org"]
        wh.sql(
            "insert into marts.sync_esp__deletions select unnest(?), 'erasure request', "
            "timestamp '2026-09-29 00:00:00'",
            [erased],
        )
        before = len(m.requests)
        report = run_sync(mailchimp_cfg(wh, m))
        new = m.requests[before:]
        assert sum(1 for method, _ in new if method == "PUT") == 3
        assert sum(1 for method, _ in new if method == "DELETE") == 2
        assert all(m.members[subscriber_hash(e)]["status"] == "archived" for e in removed)
        assert m.members[subscriber_hash("person00050@example.com")]["tags"] == {"vip"}
        assert (
            m.applied[("tag", subscriber_hash("person00030@example.com"), "winback", "inactive")]
            == 1
        )
        assert subscriber_hash("person00060@example.com") not in m.members
        assert all(m.applied[("delete_permanent", subscriber_hash(e))] == 1 for e in erased)
        p, a = report.streams["profiles"], report.streams["audience_memberships"]
        assert (p.updated, p.removed, p.suppressed) == (3, 2, 1)
        assert a.removed == 3  # p30 vip and winback, p50 winback (p60: erased, not untagged)
        assert report.streams["deletions"].deleted == 2  # the unknown address: 404, gone already
        assert_reconciled(report)

        before = len(m.requests)
        run_sync(mailchimp_cfg(wh, m))
        assert len(m.requests) == before
    assert_forgotten(wh, erased)  # p60's member id (MD5) and audiences are gone too
    assert_no_personal_data(wh)


# -- File ---------------------------------------------------------------------------------------


def _read(path: Path, fmt: str) -> list[dict]:
    if fmt == "csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_file_destination_writes_only_changed_rows(wh: Warehouse, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out"
    cfg = SyncConfig(
        destination="file", warehouse=wh.path, file=FileSettings(format=fmt, output_dir=out)
    ).validate()
    report = run_sync(cfg)
    profiles_file = out / f"profiles-{report.run_id}.{fmt}"
    rows = _read(profiles_file, fmt)
    assert len(rows) == 300 and {r["operation"] for r in rows} == {"create"}
    first = next(r for r in rows if r["email"] == "person00007@example.com")
    assert list(first)[:3] == ["operation", "key_hash", "email"]
    assert first["key_hash"] == hashlib.sha256(b"person00007@example.com").hexdigest()
    assert first["last_order_at"] == "2026-09-01T17:00:00Z"
    if fmt == "csv":
        assert json.loads(first["segments"]) == ["frequent_buyers", "high_openers"]
        assert first["phone_number"] == "+44770000007" and first["is_fatigued"] == "false"
    else:
        assert first["segments"] == ["frequent_buyers", "high_openers"]
        assert first["purchase_score"] == 0.07 and first["is_fatigued"] is False
    memberships = _read(out / f"audience_memberships-{report.run_id}.{fmt}", fmt)
    assert len(memberships) == 210
    assert not list(out.glob("*.tmp")) and not (out / f"deletions-{report.run_id}.{fmt}").exists()

    wh.sql("update marts.sync_esp__profiles set offer_code = 'X' where person_id = 'p1'")
    wh.sql("delete from marts.sync_esp__profiles where person_id in ('p2', 'p5')")
    wh.sql("delete from marts.dim_customers where first_name = 'Firstname5'")  # not found
    wh.sql(
        "insert into marts.sync_esp__deletions values "
        "('person00003@example.com', 'erasure request', timestamp '2026-09-29 00:00:00')"
    )
    report = run_sync(cfg)
    rows = _read(out / f"profiles-{report.run_id}.{fmt}", fmt)
    assert sorted((r["operation"], r["email"]) for r in rows) == [
        ("delete", "person00002@example.com"),  # address found by the removal lookup
        ("update", "person00001@example.com"),
    ]  # p5's removal, with no address to write, failed: it is kept for the next run
    assert report.streams["profiles"].remove_failed == 1 and report.exit_code == 1
    deletions = _read(out / f"deletions-{report.run_id}.{fmt}", fmt)
    assert [(r["operation"], r["email"], r["reason"]) for r in deletions] == [
        ("delete", "person00003@example.com", "erasure request")
    ]
    assert_reconciled(report)
    files = set(out.iterdir())
    report = run_sync(cfg)
    assert set(out.iterdir()) == files and report.files == []


# -- CLI, configuration, helpers --------------------------------------------------------------


def test_cli_sync_explains_itself_and_dry_runs(wh: Warehouse, tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["sync", "--help"])
    assert result.exit_code == 0 and "--max-delete-share" in result.output
    assert "KLAVIYO_API_KEY" in result.output
    monkeypatch.setenv("WAREHOUSE_PATH", str(wh.path))
    monkeypatch.delenv("MAILROOM_SYNC_CONFIG", raising=False)
    result = runner.invoke(
        app, ["sync", "-d", "file", "--dry-run", "-v", "--output-dir", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    # httpx would log every URL at INFO, Mailchimp's with the MD5 of the address.
    assert (
        logging.getLogger("httpx").level == logging.getLogger("httpcore").level == logging.WARNING
    )
    said = " ".join(result.output.split())
    assert "dry run: nothing sent" in said and "│ to create │ 0 │ 300 │ 210 │" in said
    assert not (tmp_path / "o").exists()
    result = runner.invoke(app, ["sync", "-d", "klaviyo"], env={"KLAVIYO_API_KEY": ""})
    assert result.exit_code == 2 and "KLAVIYO_API_KEY is not set" in result.output
    assert_no_personal_data(wh, said)
    assert_no_personal_data(wh, result.output)


def test_config_precedence_and_secrets_only_from_environment(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "sync.yml"
    config.write_text(
        "max_delete_share: 0.3\nmailchimp: {list_id: from_file, concurrency: 4}\n"
        "file: {format: jsonl}\n"
    )
    monkeypatch.setenv("MAILCHIMP_API_KEY", "key-us19")
    monkeypatch.setenv("MAILCHIMP_LIST_ID", "from_env")
    cfg = load_config(config, destination="mailchimp", max_delete_share=None)
    assert cfg.max_delete_share == 0.3 and cfg.file.format == "jsonl"
    assert cfg.mailchimp.list_id == "from_env" and cfg.mailchimp.concurrency == 4
    assert cfg.mailchimp.resolved_base_url() == "https://us19.api.mailchimp.com"
    assert load_config(config, destination="file", max_delete_share=0.1).max_delete_share == 0.1
    config.write_text("klaviyo: {api_key: secret}\n")
    with pytest.raises(ConfigError, match="environment only"):
        load_config(config, destination="file")


def test_a_429_pauses_every_thread_of_the_client() -> None:
    with FakeMailchimp(latency=0) as m:
        m.rate_limit_storm(1, retry_after="0.4")
        client = RetryingClient(m.base_url, FAST_HTTP, auth=("mailroom", MAILCHIMP_KEY))
        path = f"/3.0/lists/{LIST_ID}/merge-fields"
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(client.request, "GET", path)
            wait_for(lambda: client.paused_until > 0)  # the first thread has read its 429
            second = pool.submit(client.request, "GET", path)
            assert first.result().status_code == second.result().status_code == 200
        client.close()
        # The second thread waited out the first one's Retry-After before sending: the client
        # paused after the server announced the 429, so its pause ends after the server's
        # window, and no request of either thread came too early.
        assert m.faults_served[429] == 1 and m.rate_limit_enforced == 0
        assert m.retry_after_violations == 0 and len(m.requests) == 3


def test_retry_after_sanitize_and_merge_tags() -> None:
    def response(value: str) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": value})

    assert retry_after_seconds(response("0.25")) == 0.25
    assert retry_after_seconds(response("3")) == 3.0
    assert 0 <= retry_after_seconds(response("Wed, 21 Oct 2015 07:28:00 GMT")) < 1
    assert sanitize("a.b+c@example.com is not valid") == "<email> is not valid"
    tags = merge_tags(["email", "first_name", "lifetime_value_eur", "lifetime_value_usd"])
    assert tags["first_name"] == "FNAME"
    assert tags["lifetime_value_eur"] == "LIFETIME_V" and tags["lifetime_value_usd"] == "LIFETIME_1"
    assert all(len(t) <= 10 for t in tags.values())


def test_source_keys_addresses_by_the_warehouse_rule(tmp_path: Path) -> None:
    """Streamed rows and removal lookups key an address by mailroom.standardize.normalize_email
    (the macro's rule): a no-break space is trimmed, a tab is not, an empty address has no key."""
    padded, tabbed = "\u00a0Ann@X.org ", "\tbob@x.org"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.sync_esp__deletions as select * from (values "
            "(?, 'erasure', timestamp '2026-09-01'), (?, 'erasure', timestamp '2026-09-01'), "
            "('  ', 'erasure', timestamp '2026-09-01'), (null, 'erasure', timestamp '2026-09-01')"
            ") as t(email, reason, requested_at)",
            [padded, tabbed],
        )
        rows = list(read_stream(con, "marts", DELETIONS))
        assert sorted(r.record["email"] for r in rows) == ["\tbob@x.org", "ann@x.org"]
        assert {r.subject_hash for r in rows} == {sha256("ann@x.org"), sha256("\tbob@x.org")}
        wanted = {sha256("ann@x.org"), sha256("\tbob@x.org"), sha256("bob@x.org")}
        found = lookup_addresses(con, "marts.sync_esp__deletions.email", wanted)
        assert found == {sha256("ann@x.org"): "ann@x.org", sha256("\tbob@x.org"): "\tbob@x.org"}


def test_a_scoped_run_plans_only_its_persons_and_finds_a_new_persons_address(
    wh: Warehouse, tmp_path: Path
) -> None:
    """The trigger lane's sync (SyncScope): only the scoped persons' rows and keys are
    planned, the guard's share is of every key held, and a removal of a person the
    removal lookup does not know (new since the routine build) takes the scope's address."""
    from mailroom.sync.engine import SyncScope

    cfg = SyncConfig(
        destination="file", warehouse=wh.path, file=FileSettings(output_dir=tmp_path / "out")
    )
    assert run_sync(cfg).exit_code == 0
    gone, changed = "person00003@example.com", "person00004@example.com"
    wh.sql(f"delete from marts.sync_esp__profiles where email = '{gone}'")
    wh.sql(f"delete from marts.dim_customers where email = '{gone}'")  # the lookup lost it
    wh.sql("update marts.sync_esp__profiles set offer_code = 'NEW' where person_id in ('p4', 'p5')")
    scope = SyncScope(
        "person_id in ('p3', 'p4')",
        frozenset({sha256(gone), sha256(changed)}),
        {sha256(gone): gone},
    )
    report = run_sync(cfg, scope=scope)
    profiles = report.streams["profiles"]
    assert report.exit_code == 0, report.message
    assert (profiles.source_rows, profiles.updated, profiles.removed) == (
        1,
        1,
        1,
    )  # p5 not in scope
    assert profiles.present_before == 300  # the guard's share is of everything held
    assert report.streams["audience_memberships"].source_rows == 1  # p4's vip membership
    report = run_sync(cfg)  # the routine sync still sends p5's change
    assert report.streams["profiles"].updated == 1
