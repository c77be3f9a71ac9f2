"""Customer marts, point-in-time features and rule-based segments, on the small built world.

Tests that change data or definitions work on a copy of the built warehouse
(and, for seed edits, of the dbt project) and run real dbt builds on it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest
from conftest import using_warehouse

from mailroom import runner

PROJECT_FILES = [
    "dbt_project.yml",
    "profiles.yml",
    "models",
    "python_models",
    "macros",
    "seeds",
    "snapshots",
    "tests/dbt",
    "analyses",
]


def copy_warehouse(source: Path, target: Path) -> Path:
    """A consistent copy of a warehouse dbt may still hold open in this process."""
    with duckdb.connect(str(source)) as con:
        con.execute("checkpoint")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path)) as con:
        return con.execute(sql).fetchall()


def failures(result) -> list[str]:
    bad = [f"{n.unique_id}: {n.message}" for n in result.nodes if n.status in ("error", "fail")]
    return bad + ([result.error] if result.error else [])


# --------------------------------------------------------------------------- marts


ERASED = "select person_id from intermediate.int_privacy__erased_persons"
# Each fact's staged rows and the person a staged row belongs to, through the
# same identity clusters as the fact (erased people's rows are left out).
STAGED_OWNERS = {
    "fct_orders": (
        "order_id",
        "staging.stg_shop__orders",
        """select s.order_id as row_id, coalesce(a.person_id, g.person_id) as person_id
        from staging.stg_shop__orders s
        left join intermediate.int_identity__clusters a
            on a.source_table = 'shop_customers' and s.customer_id = a.source_record_id
        left join intermediate.int_identity__clusters g
            on g.source_table = 'shop_orders' and s.order_id = g.source_record_id""",
    ),
    "fct_email_events": (
        "event_id",
        "staging.stg_esp__email_events",
        """select s.event_id as row_id, c.person_id
        from staging.stg_esp__email_events s
        left join intermediate.int_identity__clusters c
            on c.source_table = 'esp_subscribers' and s.subscriber_id = c.source_record_id""",
    ),
    "fct_web_events": (
        "event_id",
        "staging.stg_web__events",
        """select s.event_id as row_id, coalesce(a.person_id, d.person_id) as person_id
        from staging.stg_web__events s
        left join intermediate.int_identity__clusters a
            on a.source_table = 'shop_customers' and s.customer_id = a.source_record_id
        left join intermediate.int_identity__clusters d
            on d.source_table = 'web_events' and s.anonymous_id = d.source_record_id""",
    ),
}


def test_facts_keep_every_staged_row_but_the_erased(built_world) -> None:
    erased_rows = 0
    for fact, (key, staged, owners) in STAGED_OWNERS.items():
        [(n_fact, n_staged, missing, missing_not_erased, kept_erased)] = built_world.query(
            f"""
            with owners as ({owners}),
            missing as (
                select o.* from owners o
                where o.row_id not in (select {key} from marts.{fact})
            )
            select
                (select count(*) from marts.{fact}),
                (select count(*) from {staged}),
                (select count(*) from missing),
                (select count(*) from missing
                 where person_id is null or person_id not in ({ERASED})),
                (select count(*) from marts.{fact} where person_id in ({ERASED}))
            """
        )
        assert n_fact + missing == n_staged and n_fact > 0, fact
        assert missing_not_erased == 0 and kept_erased == 0, fact
        erased_rows += missing
    assert erased_rows > 0, "the sample world's erasure requests remove rows"
    # order lines go with their orders
    [(_, lines_of_kept_orders)] = built_world.query(
        """
        select
            count(*),
            count(*) filter (where order_id in (select order_id from marts.fct_orders))
        from staging.stg_shop__order_items
        where order_item_id not in (select order_item_id from marts.fct_order_items)
        """
    )
    assert lines_of_kept_orders == 0
    [(unowned,)] = built_world.query(
        "select count(*) from marts.fct_orders where person_id is null"
    )
    assert unowned == 0


def test_customer_order_counts_are_orders_standing_at_the_as_of_date(built_world) -> None:
    [(from_dim,)] = built_world.query("select sum(order_count) from marts.dim_customers")
    [(from_facts,)] = built_world.query(
        """
        with dates as (
            select as_of_date + interval 1 day as cutoff
            from intermediate.int_customers__feature_dates where is_scoring_date
        )
        select
            count(*) filter (
                where known_at < cutoff and (reversed_at is null or reversed_at >= cutoff)
            )
        from marts.fct_orders cross join dates
        """
    )
    assert from_dim == from_facts > 0


def test_suppressions_win_over_consent(built_world) -> None:
    rows = dict(
        built_world.query(
            """
            select c.email_contactability, count(*)
            from intermediate.int_customers__email_contactability c
            where c.complained_at is not null or c.hard_bounced_at is not null
            group by 1
            """
        )
    )
    assert rows, "the sample world has complaints and hard bounces"
    assert set(rows) <= {"complained", "bounced"}
    [(contactable_without_email,)] = built_world.query(
        "select count(*) from marts.dim_customers where is_email_contactable and email is null"
    )
    assert contactable_without_email == 0


def test_every_person_has_one_primary_segment_at_most(built_world) -> None:
    [(bad,)] = built_world.query(
        """
        select count(*) from (
            select person_id from marts.fct_segment_memberships
            group by 1 having count(*) filter (where is_primary) <> 1
        )
        """
    )
    assert bad == 0
    [(mismatch,)] = built_world.query(
        """
        select count(*) from marts.dim_customers d
        left join marts.fct_segment_memberships m on d.person_id = m.person_id and m.is_primary
        where d.primary_segment_id is distinct from m.segment_id
        """
    )
    assert mismatch == 0


# ------------------------------------------------------------------ point in time


@pytest.fixture(scope="module")
def poisoned_world(built_world, tmp_path_factory: pytest.TempPathFactory):
    """The built world with the future written into its facts, features rebuilt.

    For an as-of date D of the training history, every fact gets copies
    dated after D (new orders, visits, e-mail events), copies of D's own orders
    and events arriving late (after D), visits of D whose device identifies
    only after D, and some of D's orders get cancelled after D.
    None of it may change the features at D; all of it is before the scoring
    date, so the scoring features must change (the poison works).
    """
    copy = copy_warehouse(
        built_world.warehouse, tmp_path_factory.mktemp("poisoned") / "warehouse.duckdb"
    )
    [(scoring,), (as_of,)] = query(
        copy,
        "select as_of_date from intermediate.int_customers__feature_dates "
        "where snapshot_number in (0, 2) order by snapshot_number",
    )
    before = {
        date: query(
            copy,
            f"select * from intermediate.int_customers__feature_history where as_of_date = '{date}'",
        )
        for date in (as_of, scoring)
    }
    cutoff = f"(date '{as_of}' + interval 1 day)"
    with duckdb.connect(str(copy)) as con:
        con.execute(f"""
            insert into marts.fct_orders
            select * replace (
                order_id || '-future' as order_id, {cutoff} + interval 1 hour as ordered_at,
                {cutoff} + interval 1 hour as known_at, null as reversed_at,
                'completed' as status, true as is_completed
            )
            from marts.fct_orders where ordered_at < {cutoff};

            insert into marts.fct_orders
            select * replace (
                order_id || '-late' as order_id, {cutoff} + interval 90 minute as known_at,
                null as reversed_at, 'completed' as status, true as is_completed
            )
            from marts.fct_orders where ordered_at < {cutoff};

            update marts.fct_orders
            set status = 'cancelled', is_completed = false, reversed_at = {cutoff} + interval 2 hour
            where known_at < {cutoff} and reversed_at is null and hash(order_id) % 3 = 0;

            insert into marts.fct_web_events
            select * replace (
                event_id || '-late' as event_id, {cutoff} + interval 3 hour as known_at,
                {cutoff} + interval 3 hour as attributed_at
            )
            from marts.fct_web_events where attributed_at < {cutoff};
            insert into marts.fct_web_events
            select * replace (
                event_id || '-future' as event_id, {cutoff} + interval 4 hour as event_at,
                {cutoff} + interval 4 hour as known_at, {cutoff} + interval 4 hour as attributed_at
            )
            from marts.fct_web_events where attributed_at < {cutoff};
            -- anonymous visits of D that their device only identifies after D
            insert into marts.fct_web_events
            select * replace (
                event_id || '-unidentified' as event_id, {cutoff} + interval 7 hour as attributed_at
            )
            from marts.fct_web_events where attributed_at < {cutoff};

            insert into marts.fct_email_events
            select * replace (event_id || '-late' as event_id, {cutoff} + interval 5 hour as known_at)
            from marts.fct_email_events where known_at < {cutoff};
            insert into marts.fct_email_events
            select * replace (
                event_id || '-future' as event_id, {cutoff} + interval 6 hour as event_at,
                {cutoff} + interval 6 hour as known_at
            )
            from marts.fct_email_events where known_at < {cutoff};
        """)
    with using_warehouse(copy):
        result = runner.dbt_build(
            select="int_customers__activity_days int_customers__feature_history",
            target="dev",
            indirect_selection="cautious",
        )
    assert result.success, failures(result)
    return copy, as_of, scoring, before


def test_no_event_after_the_as_of_date_reaches_a_feature(poisoned_world) -> None:
    copy, as_of, _, before = poisoned_world
    after = query(
        copy,
        f"select * from intermediate.int_customers__feature_history where as_of_date = '{as_of}'",
    )
    assert len(before[as_of]) > 100
    assert sorted(after, key=repr) == sorted(before[as_of], key=repr)


def test_the_poison_reaches_later_as_of_dates(poisoned_world) -> None:
    # the control: the same rebuild does see the injected events at the scoring date
    copy, _, scoring, before = poisoned_world
    after = query(
        copy,
        f"select * from intermediate.int_customers__feature_history where as_of_date = '{scoring}'",
    )
    changed = set(map(repr, after)) ^ set(map(repr, before[scoring]))
    assert len(changed) > 100


# ------------------------------------------------------------------------ segments


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dbt project's files in a scratch folder, for edits an analyst would make."""
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = runner.PROJECT_DIR / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / name)
    return root


def test_changing_a_threshold_in_the_seed_changes_membership(
    built_world, project_copy: Path, tmp_path: Path
) -> None:
    copy = copy_warehouse(built_world.warehouse, tmp_path / "warehouse.duckdb")
    members = (
        "select count(*) from marts.fct_segment_memberships where segment_id = 'recent_buyers'"
    )
    [(before,)] = query(copy, members)
    [(expected,)] = query(
        copy,
        "select count(*) from intermediate.int_customers__features "
        "where days_since_last_order <= 90",
    )
    rules = project_copy / "seeds" / "segment_rules.csv"
    text = rules.read_text()
    assert "recent_buyers,days_since_last_order,,<=,30\n" in text
    rules.write_text(
        text.replace(
            "recent_buyers,days_since_last_order,,<=,30",
            "recent_buyers,days_since_last_order,,<=,90",
        )
    )
    with using_warehouse(copy):
        result = runner.dbt_build(select="segment_rules+", target="dev", project_dir=project_copy)
    assert result.success, failures(result)
    [(after,)] = query(copy, members)
    assert before < after == expected
    [(definition,)] = query(
        copy, "select definition from marts.dim_segments where segment_id = 'recent_buyers'"
    )
    assert definition == "days_since_last_order <= 90.0"


@pytest.fixture(scope="module")
def rebuilt_world(built_world, tmp_path_factory: pytest.TempPathFactory):
    """The built world, then a day of new data (four orders of one buyer, a cart
    add of another) and a second full build: the snapshot records both states."""
    copy = copy_warehouse(built_world.warehouse, tmp_path_factory.mktemp("rebuilt") / "w.duckdb")
    [(as_of,)] = query(copy, "select value from raw.world_metadata where key = 'as_of'")
    # a buyer who is not a frequent buyer or cart abandoner now, and an account
    # holder who never added to cart
    [(buyer, customer_id)] = query(
        copy,
        """
        select d.person_id, min(o.customer_id)
        from marts.dim_customers d
        join marts.fct_orders o on o.person_id = d.person_id and o.customer_id is not null
        join intermediate.int_customers__features f on f.person_id = d.person_id
        where d.primary_segment_id in ('infrequent_buyers', 'dormant')
            and f.hours_since_last_cart_add is null
        group by 1 order by 1 limit 1
        """,
    )
    [(browser, browser_customer, device)] = query(
        copy,
        """
        select d.person_id, w.customer_id, min(w.anonymous_id)
        from marts.dim_customers d
        join marts.fct_web_events w on w.person_id = d.person_id and w.customer_id is not null
        join intermediate.int_customers__features f on f.person_id = d.person_id
        where f.hours_since_last_cart_add is null and d.person_id <> '{buyer}'
            and d.primary_segment_id is distinct from 'cart_abandoners'
        group by 1, 2 order by 1 limit 1
        """.replace("{buyer}", buyer),
    )
    day = dt.date.fromisoformat(as_of) - dt.timedelta(days=1)
    with duckdb.connect(str(copy)) as con:
        for n in range(4):
            at = f"{day}T{10 + n:02d}:00:00+00:00"
            con.execute(
                f"""
                insert into raw.shop_orders
                select * replace (
                    'NEW-{n}' as order_id, '{at}' as order_at, '{at}' as updated_at,
                    'completed' as status, timestamp '{day} 23:00:00' as _loaded_at
                )
                from raw.shop_orders where trim(customer_id) = '{customer_id}' limit 1
                """
            )
        con.execute(
            f"""
            insert into raw.web_events
            select * replace (
                'NEW-CART' as event_id, '{device}' as anonymous_id, '{browser_customer}' as user_id,
                'add_to_cart' as event_type, '{day}T20:00:00+00:00' as event_at,
                '{day}T20:00:05Z' as received_at, timestamp '{day} 21:00:00' as _loaded_at
            )
            from raw.web_events where event_type = 'add_to_cart' limit 1
            """
        )
    with using_warehouse(copy):
        # what segment history needs, not the models and activation after it
        result = runner.dbt_build(
            select="+fct_segment_transitions", target="dev", indirect_selection="cautious"
        )
    assert result.success, failures(result)
    return copy, buyer, browser


def test_two_builds_give_segment_history_and_transitions(rebuilt_world) -> None:
    copy, buyer, browser = rebuilt_world
    history = query(
        copy,
        f"select primary_segment_id, dbt_valid_to is null from snapshots.segment_history "
        f"where person_id = '{buyer}' order by dbt_valid_from",
    )
    assert len(history) == 2 and history[-1] == ("frequent_buyers", True), history
    moves = query(
        copy,
        "select person_id, from_segment_id, to_segment_id from marts.fct_segment_transitions "
        f"where not is_first_state and person_id in ('{buyer}', '{browser}') order by 1",
    )
    assert (buyer, history[0][0], "frequent_buyers") in moves
    assert any(p == browser and to == "cart_abandoners" for p, _, to in moves), moves
    # everybody else has one state per change, and most people did not change
    [(people, states)] = query(
        copy, "select count(distinct person_id), count(*) from snapshots.segment_history"
    )
    assert people < states < 1.5 * people
