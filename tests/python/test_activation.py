"""Activation marts on the built sample world: erasure, consent, audiences, content, sync marts."""

from __future__ import annotations

import hashlib

import duckdb
import pandas as pd

# Tables that must hold the records of everyone to find what an erasure request
# names (identity resolution) or that are the privacy ledger itself.
RESOLUTION_PREFIXES = ("int_identity__", "int_privacy__")


def _erased_identifiers(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every identifier of every erased person: ids, e-mails, accounts, devices, records."""
    rows = con.execute(
        """
        with erased as (select person_id from intermediate.int_privacy__erased_persons),
        nodes as (
            select c.* from intermediate.int_identity__clusters c
            where c.person_id in (select person_id from erased)
        )
        select person_id from erased
        union select source_record_id from nodes
        union select s.email from intermediate.int_identity__screened_records s
            where s.node_id in (select node_id from nodes) and s.email is not null
        union select s.email_match_key from intermediate.int_identity__screened_records s
            where s.node_id in (select node_id from nodes) and s.email_match_key is not null
        union select s.phone_e164 from intermediate.int_identity__screened_records s
            where s.node_id in (select node_id from nodes) and s.phone_e164 is not null
        union select lower(trim(r.email)) from intermediate.int_privacy__person_requests q
            join staging.stg_privacy__erasure_requests r using (request_id)
            where q.person_id in (select person_id from erased) and r.email is not null
        """
    ).fetchall()
    return {r[0] for r in rows}


def test_an_erasure_leaves_no_trace_in_any_mart_and_deletion_rows_for_the_esp(built_world) -> None:
    with duckdb.connect(str(built_world.warehouse)) as con:
        erased = con.execute(
            "select person_id, lower(deletion_email) from intermediate.int_privacy__erased_persons"
        ).fetchall()
        assert erased, "the sample world has erasure requests"
        identifiers = _erased_identifiers(con)
        con.execute(
            "create temp table erased_ids as select unnest(?) as value", [list(identifiers)]
        )
        tables = con.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_schema in ('marts', 'intermediate', 'snapshots')
            """
        ).fetchall()
        checked, traces = 0, []
        for schema, table in tables:
            if table.startswith(RESOLUTION_PREFIXES) or table == "sync_esp__deletions":
                continue
            columns = con.execute(
                """
                select column_name from information_schema.columns
                where table_schema = ? and table_name = ? and data_type = 'VARCHAR'
                """,
                [schema, table],
            ).fetchall()
            for (column,) in columns:
                [(hits,)] = con.execute(
                    f'select count(*) from {schema}."{table}" '
                    f'where "{column}" in (select value from erased_ids)'
                ).fetchall()
                checked += 1
                if hits:
                    traces.append(f"{schema}.{table}.{column}: {hits}")
        deletions = con.execute("select email, reason from marts.sync_esp__deletions").fetchall()
    assert checked > 100
    assert traces == []
    # one deletion row per address of an erased person: the address the ESP knows
    # them by for everyone, and no address of anybody else
    emails = [d[0] for d in deletions]
    assert len(emails) == len(set(emails))
    assert {e[1] for e in erased} <= set(emails) <= identifiers
    assert {d[1] for d in deletions} == {"erasure"}


def test_the_truths_erased_people_are_the_ones_erased(built_world) -> None:
    truth = pd.read_parquet(built_world.truth / "people.parquet")
    requested = set(truth.loc[truth["is_erasure_requested"], "true_person_id"])
    records = pd.read_parquet(built_world.truth / "source_records.parquet")
    erased = built_world.df(
        """
        select c.source_table, c.source_record_id
        from intermediate.int_identity__clusters c
        where c.person_id in (select person_id from intermediate.int_privacy__erased_persons)
        """
    ).merge(records, on=["source_table", "source_record_id"])
    # every record erased belongs to someone who asked (no bystander merged in by
    # identity resolution), and a request reached someone
    assert set(erased["true_person_id"]) <= requested
    assert erased["true_person_id"].nunique() >= 1


def test_sync_marts_hold_only_contactable_people(built_world) -> None:
    [(bad_profiles, profiles, people_contactable)] = built_world.query(
        """
        select
            count(*) filter (where not coalesce(c.is_email_contactable, false)),
            count(*),
            (select count(*) from marts.dim_customers
             where is_email_contactable and email is not null)
        from marts.sync_esp__profiles p
        left join marts.dim_customers c on p.person_id = c.person_id
        """
    )
    assert bad_profiles == 0 and profiles == people_contactable > 0
    [(bad_members, members)] = built_world.query(
        """
        select count(*) filter (where p.email is null or m.is_holdout or not m.is_sendable), count(*)
        from marts.sync_esp__audience_memberships s
        left join marts.sync_esp__profiles p on s.email = p.email
        left join marts.fct_audience_memberships m
            on s.audience_key = m.audience_id and s.person_id = m.person_id
        """
    )
    assert bad_members == 0 and members > 0


def test_holdouts_are_a_stable_hash_of_audience_and_person(built_world) -> None:
    members = built_world.df(
        """
        select m.audience_id, m.person_id, m.holdout_bucket, m.is_holdout, a.holdout_percent
        from marts.fct_audience_memberships m
        join staging.audiences a using (audience_id)
        """
    )
    assert set(members["audience_id"]) >= {"win_back", "vip_early_access", "re_engagement"}
    expected = [
        int(hashlib.md5(f"{a}|{p}".encode()).hexdigest()[:8], 16) % 10_000
        for a, p in zip(members["audience_id"], members["person_id"], strict=True)
    ]
    assert members["holdout_bucket"].tolist() == expected
    assert (
        members["is_holdout"] == (members["holdout_bucket"] < members["holdout_percent"] * 100)
    ).all()
    share = members["is_holdout"].mean()
    assert 0.03 < share < 0.2


def test_everyone_gets_content_with_every_placeholder_filled(built_world) -> None:
    [(people, selections, unfilled, with_fallback, named)] = built_world.query(
        """
        select
            (select count(*) from marts.dim_customers),
            count(*),
            count(*) filter (where subject_line like '%{%' or preheader like '%{%'),
            count(*) filter (where fallback_variables like '%first_name%'),
            count(*) filter (where first_name is not null and subject_line like '%' || first_name || '%')
        from marts.fct_content_selections
        """
    )
    assert people == selections and unfilled == 0
    assert with_fallback > 0 and named > 0
    [(wrong_fallback,)] = built_world.query(
        """
        select count(*) from marts.fct_content_selections
        where first_name is null and fallback_variables like '%first_name%'
            and subject_line not like '%friend%' and preheader not like '%friend%'
        """
    )
    assert wrong_fallback == 0


def test_the_file_export_and_sync_state_hold_no_erased_or_raw_address(
    built_world, tmp_path
) -> None:
    from mailroom.sync import load_config, run_sync

    out = tmp_path / "export"
    cfg = load_config(
        None,
        destination="file",
        warehouse=built_world.warehouse,
        **{"file.format": "jsonl", "file.output_dir": out},
    )
    report = run_sync(cfg)
    assert report.exit_code == 0
    files = {p.name.split("-")[0]: p.read_text() for p in out.iterdir()}
    assert set(files) == {"profiles", "audience_memberships", "deletions"}
    with duckdb.connect(str(built_world.warehouse)) as con:
        identifiers = _erased_identifiers(con) - {
            r[0] for r in con.execute("select email from marts.sync_esp__deletions").fetchall()
        }
        [(profiles,)] = con.execute("select count(*) from marts.sync_esp__profiles").fetchall()
        [(deletions,)] = con.execute("select count(*) from marts.sync_esp__deletions").fetchall()
        emails = {r[0] for r in con.execute("select email from marts.dim_customers").fetchall()}
        state = "\n".join(
            str(row)
            for table in ("records", "runs", "audit")
            for row in con.execute(f"select * from sync_state.{table}").fetchall()
        )
    assert files["profiles"].count("\n") == profiles
    assert files["deletions"].count("\n") == deletions
    leaked = [
        i for i in identifiers if i in files["profiles"] or i in files["audience_memberships"]
    ]
    assert leaked == []
    assert not any(e in state for e in emails if e)
    assert report.reconciled
    # a second run on unchanged marts writes nothing
    again = run_sync(cfg)
    assert again.exit_code == 0 and again.reconciled
    assert again.files == [] and len(list(out.iterdir())) == 3
