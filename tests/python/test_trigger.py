"""The trigger lane (`mailroom trigger`): landed rows reach the ESP in one batch.

On a copy of the session world (built by a routine build, then synced in full
to a fake Mailchimp that speaks its HTTP contract on 127.0.0.1), rows land in
the raw tables as a loader would put them there, and trigger batches run:

1. a cart addition of three known customers, and a brand-new visitor who
   views a product, signs up and gives consent: one batch puts the customers
   in the cart audience and the visitor in the welcome series, with a new
   profile, and sends exactly that;
2. the same batch again sends nothing;
3. one customer orders, one unsubscribes, one asks to be erased: the next
   batch removes the first from the cart audience, archives the second and
   erases the third at the ESP;
4. the trigger models built in full from the same rows equal what the
   batches merged.

No assertion depends on time: the batches' `now` is the world's as-of moment,
and every landed row carries a load time the test chose.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from mailroom import runner
from mailroom import trigger as lane
from mailroom.cli import app
from mailroom.sync import run_sync
from mailroom.sync.config import HttpSettings, MailchimpSettings, SyncConfig
from mailroom.warehouse import using_warehouse

sys.path.insert(0, str(Path(__file__).parent))
from esp_servers import FakeMailchimp, subscriber_hash

HTTP = HttpSettings(timeout_seconds=10, max_attempts=8, base_delay_seconds=0.01)
FIRST_LOAD = "2026-10-01 00:00:10"  # after the world's last load (2026-09-30 23:59:59)
SECOND_LOAD = "2026-10-01 00:00:20"
COMPARED = ("marts.fct_trigger_person_states", "marts.fct_trigger_audience_memberships")


@dataclass
class Lane:
    path: Path
    cfg: SyncConfig
    esp: FakeMailchimp

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.path)) as con:
            return con.execute(query, params or []).fetchall()

    def member(self, email: str) -> dict | None:
        return self.esp.members.get(subscriber_hash(email))


def bucket(text: str) -> int:
    """The holdout bucket of macro hash_bucket (DuckDB's form)."""
    with duckdb.connect() as con:
        return con.execute(
            "select cast(('0x' || substr(md5(?), 1, 8)) as bigint) % 10000", [text]
        ).fetchone()[0]


@pytest.fixture(scope="module")
def world(built_world, tmp_path_factory) -> Lane:
    root = tmp_path_factory.mktemp("trigger")
    path = root / "warehouse.duckdb"
    shutil.copy2(built_world.warehouse, path)
    with using_warehouse(path), FakeMailchimp(latency=0) as esp:
        cfg = SyncConfig(
            destination="mailchimp",
            warehouse=path,
            http=HTTP,
            mailchimp=MailchimpSettings(
                api_key="abc123-us6", list_id="list1", base_url=esp.base_url, batch_size=100
            ),
        ).validate()
        assert run_sync(cfg).exit_code == 0  # the routine sync the lane starts from
        yield Lane(path, cfg, esp)
        runner.release_warehouse()


def pick_customers(world: Lane, n: int) -> list[tuple[str, str, str]]:
    """(person_id, customer_id, email) of contactable customers outside the cart audience,
    not capped and not in its holdout."""
    rows = world.sql(
        """
        select p.person_id, i.identifier_value, p.email
        from marts.sync_esp__profiles p
        join intermediate.int_identity__identifier_persons i
            on i.person_id = p.person_id and i.identifier_type = 'customer_id'
        join marts.fct_send_preferences s on s.person_id = p.person_id
        where not s.is_frequency_capped
          and p.person_id not in (select person_id from marts.fct_trigger_audience_memberships)
          and p.person_id in (select person_id from intermediate.int_identity__identifier_persons
                              where identifier_type = 'customer_id'
                              group by 1 having count(*) = 1)
        order by p.person_id
        """
    )
    picked = [r for r in rows if bucket(f"cart_abandonment|{r[0]}") >= 1000]
    assert len(picked) >= n
    return picked[:n]


def new_visitor_email() -> str:
    """An address whose provisional person is outside the welcome series' holdout."""
    for i in range(100):
        email = f"first.visit{i}@example.org"
        from_sql = (
            duckdb.connect().execute("select md5('provisional|email|' || ?)", [email]).fetchone()[0]
        )
        if bucket(f"welcome_series|{from_sql}") >= 1000:
            return email
    raise AssertionError("no address outside the holdout")


def land(world: Lane, statements: list[str]) -> None:
    runner.release_warehouse()
    with duckdb.connect(str(world.path)) as con:
        for statement in statements:
            con.execute(statement)


def web_event(event_id, event_type, at, loaded, user_id=None, anonymous_id=None, props="{}"):
    user = f"'{user_id}'" if user_id else "null"
    anon = f"'{anonymous_id}'" if anonymous_id else "null"
    return (
        "insert into raw.web_events (event_id, anonymous_id, user_id, event_type, event_at, "
        f"received_at, properties, _loaded_at) values ('{event_id}', {anon}, {user}, "
        f"'{event_type}', '{at}', '{at}', '{props}', timestamp '{loaded}')"
    )


def test_trigger_batches_reach_the_esp(world: Lane, monkeypatch: pytest.MonkeyPatch) -> None:
    (a, a_account, a_email), (b, b_account, b_email), (c, c_account, c_email) = pick_customers(
        world, 3
    )
    product = world.sql("select product_id from staging.stg_shop__products limit 1")[0][0]
    visitor = new_visitor_email()
    cart = f'{{"product_id":"{product}"}}'
    land(
        world,
        [
            web_event(
                "trg-a1", "add_to_cart", "2026-09-30T23:00:00Z", FIRST_LOAD, a_account, props=cart
            ),
            web_event(
                "trg-b1", "add_to_cart", "2026-09-30T23:01:00Z", FIRST_LOAD, b_account, props=cart
            ),
            web_event(
                "trg-c1", "add_to_cart", "2026-09-30T23:02:00Z", FIRST_LOAD, c_account, props=cart
            ),
            web_event(
                "trg-d1",
                "product_view",
                "2026-09-30T23:10:00Z",
                FIRST_LOAD,
                anonymous_id="trg-new-device",
                props=cart,
            ),
            web_event(
                "trg-d2",
                "signup",
                "2026-09-30T23:11:00Z",
                FIRST_LOAD,
                anonymous_id="trg-new-device",
                props=f'{{"email":"{visitor}"}}',
            ),
            "insert into raw.privacy_consent_events (consent_event_id, email, channel, purpose, "
            f"status, event_at, _loaded_at) values ('trg-k1', '{visitor}', 'email', 'marketing', "
            f"'granted', '2026-09-30T23:11:30Z', timestamp '{FIRST_LOAD}')",
        ],
    )

    # 1. one batch, through the command line as a user runs it
    monkeypatch.setenv("MAILCHIMP_API_KEY", "abc123-us6")
    monkeypatch.setenv("MAILCHIMP_LIST_ID", "list1")
    monkeypatch.setenv("MAILROOM_MAILCHIMP_BASE_URL", world.esp.base_url)
    result = CliRunner().invoke(
        app, ["trigger", "-d", "mailchimp", "--warehouse", str(world.path), "--target", "dev"]
    )
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    members = world.sql(
        "select audience_id, person_id, is_sendable, is_provisional "
        "from marts.fct_trigger_audience_memberships where person_id in (?, ?, ?) "
        "or is_provisional order by 1, 2",
        [a, b, c],
    )
    assert {(r[0], r[1]) for r in members if r[0] == "cart_abandonment"} == {
        ("cart_abandonment", p) for p in (a, b, c)
    }
    welcome = [r for r in members if r[0] == "welcome_series" and r[3]]
    assert len(welcome) == 1 and welcome[0][2]  # the new visitor, provisional and sendable
    for email in (a_email, b_email, c_email):
        assert "cart_abandonment" in world.member(email)["tags"]
    new = world.member(visitor)
    assert new is not None and new["status"] == "subscribed"
    assert "welcome_series" in new["tags"]
    ((status, touched),) = world.sql("select status, touched_persons from trigger_state.batches")
    assert status == "succeeded" and touched >= 4  # and those of rows re-read (the lookback)

    # 2. the same batch again: nothing new landed, nothing is sent
    applied = dict(world.esp.applied)
    report = lane.run_batch(world.cfg, target="dev")
    assert report.status == "succeeded"
    totals = report.sync.totals()
    assert (totals["created"], totals["updated"], totals["removed"], totals["deleted"]) == (
        0,
        0,
        0,
        0,
    )
    assert dict(world.esp.applied) == applied

    # 3. a purchase, an unsubscribe and an erasure land between two batches
    land(
        world,
        [
            "insert into raw.shop_orders (order_id, customer_id, order_at, currency, "
            "total_amount, status, _loaded_at) values ('trg-o1', "
            f"'{a_account}', '2026-09-30T23:30:00Z', 'EUR', '25.00', 'completed', "
            f"timestamp '{SECOND_LOAD}')",
            "insert into raw.esp_email_events (event_id, email, event_type, event_at, _loaded_at) "
            f"values ('trg-u1', '{b_email}', 'unsubscribe', '2026-09-30T23:31:00Z', "
            f"timestamp '{SECOND_LOAD}')",
            "insert into raw.privacy_erasure_requests (request_id, customer_id, requested_at, "
            f"_loaded_at) values ('trg-r1', '{c_account}', '2026-09-30T23:32:00Z', "
            f"timestamp '{SECOND_LOAD}')",
        ],
    )
    report = lane.run_batch(world.cfg, target="dev")
    assert report.status == "succeeded", report.message
    assert world.sql(
        "select person_id from marts.fct_trigger_audience_memberships "
        "where audience_id = 'cart_abandonment' and person_id in (?, ?, ?)",
        [a, b, c],
    ) == [(b,)]  # b is still a member, but no longer contactable
    assert "cart_abandonment" not in world.member(a_email)["tags"]
    assert world.member(b_email)["status"] == "archived"
    assert world.member(c_email) is None  # deleted permanently
    assert world.sql(
        "select count(*) from marts.sync_esp__profiles where person_id in (?, ?)", [b, c]
    ) == [(0,)]
    assert world.sql("select count(*) from trigger_state.pending_persons") == [(0,)]

    # 4. the trigger models built in full from the same rows equal the merged batches
    merged = {table: sorted(world.sql(f"select * from {table}")) for table in COMPARED}
    runner.release_warehouse()
    with using_warehouse(world.path):
        full = runner.dbt_build(
            select="int_trigger__signals fct_trigger_person_states "
            "int_trigger__touched_persons fct_trigger_audience_memberships",
            target="dev",
            exclude="resource_type:test",
        )
        runner.release_warehouse()
    assert full.success, full.error
    for table in COMPARED:
        assert sorted(world.sql(f"select * from {table}")) == merged[table], table

    # 5. the lane's models read the running batch when they compile: run in batch
    # mode by hand, without one, they say what runs a batch
    with using_warehouse(world.path), lane.trigger_mode():
        by_hand = runner.dbt_build(
            select="int_trigger__signals", target="dev", exclude="resource_type:test"
        )
        runner.release_warehouse()
    said = " ".join([by_hand.error or "", *(n.message or "" for n in by_hand.nodes)])
    assert not by_hand.success
    assert "0 running batches, not one: a trigger batch is run by `mailroom trigger`" in said


def test_a_second_batch_waits_its_turn(tmp_path: Path) -> None:
    cfg = SyncConfig(destination="file", warehouse=tmp_path / "warehouse.duckdb")
    with (
        lane.batch_lock(cfg.warehouse),
        pytest.raises(lane.TriggerBusy, match="another trigger batch is running"),
    ):
        lane.run_batch(cfg)


def test_a_batch_needs_a_routine_build_first(tmp_path: Path) -> None:
    cfg = SyncConfig(destination="file", warehouse=tmp_path / "warehouse.duckdb")
    with pytest.raises(lane.TriggerError, match="run `mailroom build` first"):
        lane.run_batch(cfg)


def test_the_loop_survives_a_failed_batch() -> None:
    outcomes: list[tuple[object, object]] = []
    calls = iter([RuntimeError("warehouse busy"), "report"])
    waits: list[float] = []

    def batch():
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    ran = lane.run_every(
        300,
        batch,
        on_report=lambda report, exc: outcomes.append((report, exc)),
        max_batches=2,
        sleep=waits.append,
    )
    assert ran == 2
    assert outcomes[0][0] is None and str(outcomes[0][1]) == "warehouse busy"
    assert outcomes[1] == ("report", None)
    assert len(waits) == 1 and 0 <= waits[0] <= 300


@pytest.mark.parametrize(
    ("text", "seconds"), [("300", 300), ("90s", 90), ("5m", 300), ("1h", 3600), ("0.5m", 30)]
)
def test_intervals(text: str, seconds: float) -> None:
    assert lane.parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-1m", "0"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValueError):
        lane.parse_interval(text)
