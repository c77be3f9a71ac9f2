"""Identity resolution on real dbt builds: guardrails, probabilistic matching, stable ids.

A small generated world gets planted records for each failure mode, is built
(staging and identity models with their tests), rebuilt unchanged, and rebuilt
again with one unrelated record added.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import load_model_module, using_warehouse

from mailroom import runner
from mailroom.generator import WorldConfig, generate_world
from mailroom.identity_score import score_identity

IDENTITY_MODELS = "identity_blocklist identity_survivorship +int_customers__golden_records +bdg_person_source_records +rpt_identity_quality +rpt_identity_review_pairs assert_identity_clusters_converged"
LOADED_AT = pd.Timestamp("2026-09-01 00:00:00")


def load_em_module():
    return load_model_module(
        "python_models/intermediate/identity/int_identity__match_parameters.py"
    )


# --------------------------------------------------------------------- EM, pure functions


def simulate_patterns(rng, n_pairs, share, m, u, blocking_rule=1, held_out=""):
    """Comparison patterns of pairs drawn from a known mixture of matches and non-matches."""
    is_match = rng.random(n_pairs) < share
    cols = {}
    for name in m:
        levels = list(m[name])
        pm = [m[name][lv] for lv in levels]
        pu = [u[name][lv] for lv in levels]
        cols[f"gamma_{name}"] = np.where(
            is_match, rng.choice(levels, n_pairs, p=pm), rng.choice(levels, n_pairs, p=pu)
        )
    df = pd.DataFrame(cols)
    out = df.value_counts().rename("pair_count").reset_index()
    out["blocking_rule"] = blocking_rule
    out["held_out_comparisons"] = held_out
    out["pattern_key"] = (
        out[[c for c in out.columns if c.startswith("gamma_")]].astype(str).agg("|".join, axis=1)
    )
    return out


M = {
    "first_name": {0: 0.05, 2: 0.95},
    "street": {0: 0.1, 1: 0.1, 2: 0.8},
    "phone": {0: 0.2, 1: 0.8},
}
U = {
    "first_name": {0: 0.98, 2: 0.02},
    "street": {0: 0.95, 1: 0.04, 2: 0.01},
    "phone": {0: 0.999, 1: 0.001},
}


def test_em_recovers_known_m_probabilities() -> None:
    em = load_em_module()
    rng = np.random.default_rng(1)
    candidates = simulate_patterns(rng, 200_000, 0.3, M, U)
    random_pairs = simulate_patterns(rng, 500_000, 0.0, M, U)
    random_pairs["population_records"] = 10_000
    params = em.match_parameters(candidates, random_pairs)
    got = {(r.comparison, r.comparison_level): r.m_probability for r in params.itertuples()}
    for name, levels in M.items():
        for lv, p in levels.items():
            assert got[(name, lv)] == pytest.approx(p, abs=0.02), (name, lv)
    assert params["em_converged"].all()
    # u comes from the random pairs
    u = {(r.comparison, r.comparison_level): r.u_probability for r in params.itertuples()}
    assert u[("street", 2)] == pytest.approx(0.01, abs=0.002)


def test_em_session_does_not_learn_its_blocking_comparison() -> None:
    em = load_em_module()
    rng = np.random.default_rng(2)
    # Blocked on first name: every pair agrees on it, so the session must hold it out.
    blocked = simulate_patterns(rng, 50_000, 0.5, M, U, held_out="first_name")
    blocked["gamma_first_name"] = 2
    blocked = blocked.groupby(
        [
            "blocking_rule",
            "held_out_comparisons",
            "gamma_first_name",
            "gamma_street",
            "gamma_phone",
        ],
        as_index=False,
    )["pair_count"].sum()
    blocked["pattern_key"] = "x"
    random_pairs = simulate_patterns(rng, 200_000, 0.0, M, U)
    random_pairs["population_records"] = 1_000
    params = em.match_parameters(blocked, random_pairs)
    first = params[params["comparison"] == "first_name"].set_index("comparison_level")
    # never learnt: stays at its starting point rather than collapsing to "always agrees"
    assert first.loc[2, "m_probability"] == pytest.approx(0.9)
    street = params[params["comparison"] == "street"].set_index("comparison_level")
    assert street.loc[2, "m_probability"] == pytest.approx(0.8, abs=0.03)


def test_level_shares_never_zero() -> None:
    em = load_em_module()
    shares = em.level_shares(np.array([2, 2, -1]), np.array([1.0, 1.0, 5.0]), [0, 1, 2], 0.5)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert min(shares.values()) > 0
    assert shares[2] == pytest.approx(2.5 / 3.5)


# --------------------------------------------------------------------- planted world


@dataclass
class IdentityWorld:
    warehouse: Path
    truth: Path
    builds: list

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse)) as con:
            return con.execute(sql).fetchall()

    def person_of(self, table: str, record_id: str) -> str:
        rows = self.query(
            "select person_id from marts.bdg_person_source_records "
            f"where source_table = '{table}' and source_record_id = '{record_id}'"
        )
        assert len(rows) == 1, (table, record_id, rows)
        return rows[0][0]


def insert(con, table: str, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows)
    frame["_loaded_at"] = LOADED_AT
    con.register("planted", frame)
    con.execute(f"insert into raw.{table} by name select * from planted")
    con.unregister("planted")


def crm(contact_id, first, last, street, postcode, city, email=None, phone=None, birth=None):
    return {
        "contact_id": contact_id,
        "email": email,
        "phone": phone,
        "first_name": first,
        "last_name": last,
        "street": street,
        "city": city,
        "postcode": postcode,
        "country": "France",
        "birth_date": birth,
        "created_at": "2026-03-01 10:00:00",
        "updated_at": "2026-03-01 10:00:00",
    }


def plant(con) -> None:
    rng = np.random.default_rng(11)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def word(n: int = 9) -> str:
        return "".join(rng.choice(letters, n)).capitalize()

    # 500 contacts typing the same placeholder e-mail: all different people
    insert(
        con,
        "crm_contacts",
        [
            crm(
                f"PLH-{i:04d}",
                word(),
                word(),
                f"{i} {word()} Street",
                f"P{i:04d}",
                "Lyon",
                email="TEST@test.com ",
            )
            for i in range(500)
        ],
    )
    # one phone on 40 shop accounts of different people
    insert(
        con,
        "shop_customers",
        [
            {
                "customer_id": f"SHARED-{i:03d}",
                "email": f"{word()}.{word()}{i}@mail-{i}.com",
                "phone": "+33 1 44 55 66 77",
                "first_name": word(),
                "last_name": word(),
                "country": "FR",
                "accepts_marketing": "false",
                "created_at": "2026-02-01 09:00:00",
                "updated_at": "2026-02-01 09:00:00",
            }
            for i in range(40)
        ],
    )
    # a typo'd e-mail, same name and address: one person, found by the probabilistic step
    insert(
        con,
        "crm_contacts",
        [
            crm("TYPO-1", "Annabelle", "Quixotte", "12 Rue des Lilas", "75011", "Paris",
                email="annabelle.quixotte77@orange.fr", birth="1984-05-02"),
            crm("TYPO-2", "ANNABELLE", "Quixotte", "12, rue des Lilas", "75011", "Paris",
                email="annabelle.quixote77@orange.fr"),
        ],
    )  # fmt: skip
    # a CRM export's duplicate with no e-mail and no phone: names, address and birth date only
    insert(
        con,
        "crm_contacts",
        [
            crm("DUP-1", "Marguerite", "Duchemin", "7 Avenue Foch", "69006", "Lyon", birth="1955-07-14"),
            crm("DUP-2", "MARGUERITE", "DUCHEMIN", "7, avenue Foch", "69 006", "LYON", birth="1955-07-14"),
        ],
    )  # fmt: skip
    # two family members' accounts, both logged in on one shared computer
    account = {
        "country": "FR",
        "accepts_marketing": "false",
        "phone": None,
        "created_at": "2026-02-01 09:00:00",
        "updated_at": "2026-02-01 09:00:00",
    }
    insert(
        con,
        "shop_customers",
        [
            dict(account, customer_id="FAM-A", email="odile.marchetti@laposte.net",
                 first_name="Odile", last_name="Marchetti"),
            dict(account, customer_id="FAM-B", email="hugo.delacroix@laposte.net",
                 first_name="Hugo", last_name="Delacroix"),
            dict(account, customer_id="GIFTER", email="paul.gifter@free.fr",
                 first_name="Paul", last_name="Gifter"),
        ],
    )  # fmt: skip
    insert(
        con,
        "web_events",
        [
            {"event_id": f"SHAREDDEV-{i}", "anonymous_id": "DEVICE-SHARED", "user_id": user,
             "event_type": "page_view", "event_at": f"2026-05-0{i + 1}T10:00:00+02:00",
             "received_at": f"2026-05-0{i + 1}T08:00:05Z", "page_url": "https://shop.example/",
             "properties": "{}"}
            for i, user in enumerate(["FAM-A", "FAM-B", "FAM-A"])
        ],
    )  # fmt: skip
    # a guest order the account holder sent as a gift: another shipping name, their e-mail
    insert(
        con,
        "shop_orders",
        [
            {"order_id": "GIFT-1", "customer_id": None, "email": "Paul.Gifter@free.fr", "phone": None,
             "order_at": "2026-06-01T12:00:00+02:00", "currency": "EUR", "total_amount": "25.00",
             "discount_amount": "0.00", "item_count": "1", "status": "completed",
             "shipping_first_name": "Maria", "shipping_last_name": "Recipient",
             "shipping_street": "3 Rue Haute", "shipping_postcode": "13001", "shipping_city": "Marseille",
             "shipping_country": "FR", "updated_at": "2026-06-01 10:00:00"},
        ],
    )  # fmt: skip
    # same common name, same postcode, different streets and birth dates: two people
    insert(
        con,
        "crm_contacts",
        [
            crm("SMITH-1", "John", "Smith", "4 Baker Road", "75012", "Paris", birth="1961-02-03"),
            crm("SMITH-2", "John", "Smith", "90 Canal Way", "75012", "Paris", birth="1990-11-21"),
        ],
    )


@pytest.fixture(scope="module")
def identity_world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("identity")
    warehouse, truth = root / "warehouse.duckdb", root / "truth"
    with using_warehouse(warehouse):
        generate_world(WorldConfig(people=800, chunk_size=400, seed=5), warehouse, truth)
        with duckdb.connect(str(warehouse)) as con:
            plant(con)
        world = IdentityWorld(warehouse, truth, [])
        world.builds.append(
            runner.dbt_build(select=IDENTITY_MODELS, target="dev", indirect_selection="cautious")
        )
        yield world


def test_identity_build_passes(identity_world) -> None:
    build = identity_world.builds[0]
    failed = [(n.unique_id, n.message) for n in build.nodes if n.status not in ("success", "pass")]
    assert build.success and not failed, failed


def test_placeholder_email_merges_nobody(identity_world) -> None:
    persons = identity_world.query(
        "select count(distinct person_id), count(*) from marts.bdg_person_source_records "
        "where source_table = 'crm_contacts' and source_record_id like 'PLH-%'"
    )[0]
    assert persons == (500, 500)
    refused = identity_world.query(
        "select refusal_reason, count(*) from intermediate.int_identity__refused_links "
        "where identifier_value = 'test@test.com' group by 1"
    )
    assert refused == [("blocklisted", 500)]
    # the placeholder never becomes anyone's e-mail
    assert identity_world.query(
        "select count(*) from intermediate.int_customers__golden_records where email_match_key = 'test@test.com'"
    ) == [(0,)]


def test_phone_shared_by_forty_customers_is_refused_and_logged(identity_world) -> None:
    persons = identity_world.query(
        "select count(distinct person_id) from marts.bdg_person_source_records "
        "where source_table = 'shop_customers' and source_record_id like 'SHARED-%'"
    )
    assert persons == [(40,)]
    refused = identity_world.query(
        "select refusal_reason, count(*), max(record_count) from intermediate.int_identity__refused_links "
        "where identifier_type = 'phone' and identifier_value = '+33144556677' group by 1"
    )
    assert refused == [("over_shared", 40, 40)]
    reasons = dict(
        identity_world.query(
            "select item, value from marts.rpt_identity_quality where section = 'refused_by_reason'"
        )
    )
    assert reasons["over_shared"] >= 40 * 39 // 2


def test_shared_device_links_nobody(identity_world) -> None:
    w = identity_world
    assert w.person_of("shop_customers", "FAM-A") != w.person_of("shop_customers", "FAM-B")
    device = w.person_of("web_events", "DEVICE-SHARED")
    assert device not in (
        w.person_of("shop_customers", "FAM-A"),
        w.person_of("shop_customers", "FAM-B"),
    )
    assert w.query(
        "select refusal_reason, count(*) from intermediate.int_identity__refused_links "
        "where node_id = 'web_events:DEVICE-SHARED' group by 1"
    ) == [("shared_device", 2)]


def test_gift_order_stays_with_the_buyer(identity_world) -> None:
    w = identity_world
    assert w.person_of("shop_orders", "GIFT-1") == w.person_of("shop_customers", "GIFTER")
    # the golden name is the account holder's, not the recipient's
    person = w.person_of("shop_customers", "GIFTER")
    assert w.query(
        f"select first_name from intermediate.int_customers__golden_records where person_id = '{person}'"
    ) == [("Paul",)]


def test_typo_email_same_name_and_address_is_merged_probabilistically(identity_world) -> None:
    w = identity_world
    assert w.person_of("crm_contacts", "TYPO-1") == w.person_of("crm_contacts", "TYPO-2")
    rule, probability = w.query(
        "select match_rule, match_probability from marts.bdg_person_source_records "
        "where source_record_id = 'TYPO-2'"
    )[0]
    assert rule == "probabilistic"
    assert probability >= 0.99


def test_person_records_alone_are_deduplicated(identity_world) -> None:
    w = identity_world
    assert w.person_of("crm_contacts", "DUP-1") == w.person_of("crm_contacts", "DUP-2")


def test_same_common_name_different_birth_dates_is_two_people(identity_world) -> None:
    w = identity_world
    assert w.person_of("crm_contacts", "SMITH-1") != w.person_of("crm_contacts", "SMITH-2")
    # they were compared (same first name and postcode), and scored low
    assert w.query(
        "select count(*) from intermediate.int_identity__candidate_pairs "
        "where node_id = 'crm_contacts:SMITH-1' and linked_node_id = 'crm_contacts:SMITH-2'"
    ) == [(1,)]


def test_no_person_over_the_guardrail_and_quality_report(identity_world) -> None:
    largest = identity_world.query(
        "select value from marts.rpt_identity_quality where section = 'largest_cluster'"
    )[0][0]
    assert 1 <= largest <= 200
    sections = {
        r[0]
        for r in identity_world.query("select distinct section from marts.rpt_identity_quality")
    }
    assert {"cluster_size", "largest_cluster", "links_by_rule", "refused_by_reason"} <= sections


def test_resolution_against_truth(identity_world) -> None:
    score = score_identity(identity_world.warehouse, identity_world.truth)
    assert score.identifiable.precision >= 0.99, score
    assert score.identifiable.recall >= 0.95, score


def _scored_pairs_with_truth(w: IdentityWorld) -> str:
    """SQL: every candidate pair's match probability and whether it is one true person."""
    return f"""
        with truth as (select * from read_parquet('{w.truth / "source_records.parquet"}')),
        records as (
            select records.node_id, truth.true_person_id
            from intermediate.int_identity__records as records
            inner join truth using (source_table, source_record_id)
        )
        select
            pair_scores.*,
            left_records.true_person_id = right_records.true_person_id as is_true_pair
        from intermediate.int_identity__pair_scores as pair_scores
        inner join records as left_records on pair_scores.node_id = left_records.node_id
        inner join records as right_records on pair_scores.linked_node_id = right_records.node_id
    """


def test_match_probabilities_are_not_overconfident(identity_world) -> None:
    """Against the truth: pairs scored p or more are one person at least p of the time."""
    rows = identity_world.query(f"""
        with scored as ({_scored_pairs_with_truth(identity_world)})
        select bin, count(*), avg(cast(is_true_pair as integer))
        from (
            select
                is_true_pair,
                case
                    when match_probability >= 0.99 then 0.99
                    when match_probability >= 0.9 then 0.9
                    when match_probability >= 0.5 then 0.5
                end as bin
            from scored
        )
        where bin is not null
        group by 1 order by 1
    """)
    assert [float(r[0]) for r in rows] == [0.5, 0.9, 0.99], rows
    for low, pairs, true_share in rows:
        assert true_share >= float(low), (low, pairs, true_share)


def test_blocking_rules_are_reported_and_reach_the_true_pairs(identity_world) -> None:
    w = identity_world
    report = {
        (section, item): value
        for section, item, value in w.query(
            "select section, item, value from marts.rpt_identity_quality "
            "where section like 'blocking%' or section = 'probabilistic'"
        )
    }
    rules = [item for section, item in report if section == "blocking_pairs"]
    assert len(rules) == 11 and "3: first_name_key, birth_date" in rules, rules
    assert rules[-1] == "11: name_pair_key", rules
    # a rule with its own limit (both names: 10 records) compares every pair of
    # the blocks up to it and skips, and reports, every block over it
    [(over, skipped, within, compared)] = w.query("""
        with blocks as (
            select name_pair_key, count(*) as records
            from intermediate.int_identity__comparable_records
            where name_pair_key is not null
            group by 1
        )
        select
            (select count(*) from blocks where records > 10),
            (select count(*) from intermediate.int_identity__skipped_blocks where blocking_rule = 11),
            (select sum(records * (records - 1) / 2) from blocks where records <= 10),
            (select count(*) from intermediate.int_identity__candidate_pairs where is_in_block_11)
    """)
    assert over == skipped and within == compared > 0, (over, skipped, within, compared)
    pairs = report[("probabilistic", "candidate_pairs")]
    assert max(report[("blocking_pairs", r)] for r in rules) <= pairs
    assert sum(report[("blocking_only", r)] for r in rules) <= pairs
    assert sum(report[("blocking_links", r)] for r in rules) > 0
    # blocking recall: true pairs of comparable records that some rule compared
    [(true_pairs, compared)] = w.query(f"""
        with truth as (select * from read_parquet('{w.truth / "source_records.parquet"}')),
        comparable as (
            select comparable.node_id, truth.true_person_id
            from intermediate.int_identity__comparable_records as comparable
            inner join intermediate.int_identity__records using (node_id)
            inner join truth using (source_table, source_record_id)
        ),
        true_pairs as (
            select a.node_id, b.node_id as linked_node_id
            from comparable as a
            inner join comparable as b
                on a.true_person_id = b.true_person_id and a.node_id < b.node_id
        )
        select count(*), count(candidate_pairs.node_id)
        from true_pairs
        left join intermediate.int_identity__candidate_pairs as candidate_pairs
            using (node_id, linked_node_id)
    """)
    assert compared / true_pairs >= 0.9, (compared, true_pairs)


def test_review_pairs_straddle_the_threshold(identity_world) -> None:
    rows = identity_world.query(
        "select is_linked, match_probability, bits_from_threshold, is_same_person, "
        "first_name, linked_first_name, gamma_address from marts.rpt_identity_review_pairs"
    )
    assert {r[0] for r in rows} == {True, False}, "pairs on both sides of the threshold"
    for linked, probability, bits, same, *_ in rows:
        assert linked == (probability >= 0.9) and abs(bits) <= 3
        assert same or not linked  # a linked pair is one person


def test_golden_record_follows_survivorship(identity_world) -> None:
    w = identity_world
    person = w.person_of("crm_contacts", "TYPO-1")
    first, last, street, birth = w.query(
        "select first_name, last_name, street, birth_date from intermediate.int_customers__golden_records "
        f"where person_id = '{person}'"
    )[0]
    assert (first, last) == ("Annabelle", "Quixotte")
    assert street in ("12 Rue des Lilas", "12, rue des Lilas")
    assert str(birth) == "1984-05-02"


def test_rebuild_gives_identical_ids_and_unrelated_record_changes_none(identity_world) -> None:
    w = identity_world
    query = "select source_table, source_record_id, person_id from marts.bdg_person_source_records"
    before = set(w.query(query))
    rebuilt = runner.dbt_build(select=IDENTITY_MODELS, target="dev", indirect_selection="cautious")
    assert rebuilt.success
    assert set(w.query(query)) == before

    with duckdb.connect(str(w.warehouse)) as con:
        insert(
            con,
            "crm_contacts",
            [crm("NEW-1", "Zebulon", "Farquharson", "1 Nowhere Lane", "99999", "Nantes",
                 email="zebulon.farquharson@wanadoo.fr", birth="1970-01-01")],
        )  # fmt: skip
    grown = runner.dbt_build(select=IDENTITY_MODELS, target="dev", indirect_selection="cautious")
    assert grown.success
    after = set(w.query(query))
    assert before <= after
    assert len(after - before) == 1
