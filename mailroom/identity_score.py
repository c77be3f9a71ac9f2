"""Score identity resolution against the sample world's truth.

Pairwise figures count record pairs: a pair is predicted when both records
have the same person_id and true when both have the same true_person_id.
Precision = correct predicted pairs / predicted pairs; recall = correct
predicted pairs / true pairs. Cluster figures count true people: exact when
their records form exactly one predicted person holding nothing else.

Figures are given twice: over every truth record that reached the bridge, and
over the identifiable ones, records that carry at least one identifier or a
name. A web anonymous id that never logged in or typed an e-mail carries
nothing a resolver could use; it can only be its own person.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb


@dataclass
class PairFigures:
    records: int
    true_people: int
    predicted_people: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    people_exact: float
    people_split: int
    predicted_people_merging_several: int
    largest_predicted_person: int


@dataclass
class IdentityScore:
    all_records: PairFigures
    identifiable: PairFigures
    truth_records: int
    records_missing_from_bridge: int
    records_missing_from_truth: int

    def as_dict(self) -> dict:
        return asdict(self)


def score_identity(warehouse: Path, truth_dir: Path) -> IdentityScore:
    """Score the warehouse's bdg_person_source_records against truth_dir/source_records.parquet."""
    # Not read-only: dbt-duckdb may hold a read-write handle in this process.
    con = duckdb.connect(str(warehouse))
    try:
        return score_with(con, truth_dir)
    finally:
        con.close()


def score_with(con: duckdb.DuckDBPyConnection, truth_dir: Path) -> IdentityScore:
    truth = (truth_dir / "source_records.parquet").as_posix().replace("'", "''")
    con.execute(
        "create or replace temp table score_truth as "
        "select source_table, source_record_id, true_person_id "
        f"from read_parquet('{truth}')"
    )
    con.execute(
        """
        create or replace temp table score_records as
        select
            score_truth.true_person_id,
            bridge.person_id,
            exists (
                select 1 from intermediate.int_identity__record_identifiers as ids
                where ids.node_id = bridge.source_table || ':' || bridge.source_record_id
            ) or exists (
                select 1 from intermediate.int_identity__records as records
                where records.node_id = bridge.source_table || ':' || bridge.source_record_id
                    and (records.first_name_key is not null or records.last_name_key is not null)
            ) as is_identifiable
        from score_truth
        inner join marts.bdg_person_source_records as bridge
            using (source_table, source_record_id)
        """
    )
    truth_n = con.execute("select count(*) from score_truth").fetchone()[0]
    missing_bridge = con.execute(
        "select count(*) from score_truth anti join marts.bdg_person_source_records "
        "using (source_table, source_record_id)"
    ).fetchone()[0]
    missing_truth = con.execute(
        "select count(*) from marts.bdg_person_source_records anti join score_truth "
        "using (source_table, source_record_id)"
    ).fetchone()[0]
    return IdentityScore(
        all_records=_figures(con, "true"),
        identifiable=_figures(con, "is_identifiable"),
        truth_records=int(truth_n),
        records_missing_from_bridge=int(missing_bridge),
        records_missing_from_truth=int(missing_truth),
    )


def _figures(con: duckdb.DuckDBPyConnection, where: str) -> PairFigures:
    row = con.execute(
        f"""
        with scored as (
            select true_person_id, person_id from score_records where {where}
        ),
        per_true as (
            select true_person_id, count(*) as n, count(distinct person_id) as predicted
            from scored group by 1
        ),
        per_pred as (
            select person_id, count(*) as n, count(distinct true_person_id) as truths
            from scored group by 1
        ),
        per_both as (
            select true_person_id, person_id, count(*) as n from scored group by 1, 2
        )
        select
            (select count(*) from scored),
            (select count(*) from per_true),
            (select count(*) from per_pred),
            (select coalesce(sum(n * (n - 1) / 2), 0)::hugeint from per_true),
            (select coalesce(sum(n * (n - 1) / 2), 0)::hugeint from per_pred),
            (select coalesce(sum(n * (n - 1) / 2), 0)::hugeint from per_both),
            (select count(*) from per_both
                inner join per_true using (true_person_id)
                inner join per_pred using (person_id)
                where per_true.predicted = 1 and per_pred.truths = 1),
            (select count(*) from per_true where predicted > 1),
            (select count(*) from per_pred where truths > 1),
            (select coalesce(max(n), 0) from per_pred)
        """
    ).fetchone()
    (
        records,
        true_people,
        pred_people,
        true_pairs,
        pred_pairs,
        correct,
        exact,
        split,
        merging,
        big,
    ) = row
    precision = float(correct / pred_pairs) if pred_pairs else 1.0
    recall = float(correct / true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairFigures(
        records=int(records),
        true_people=int(true_people),
        predicted_people=int(pred_people),
        true_pairs=int(true_pairs),
        predicted_pairs=int(pred_pairs),
        correct_pairs=int(correct),
        precision=precision,
        recall=recall,
        f1=f1,
        people_exact=exact / true_people if true_people else 1.0,
        people_split=int(split),
        predicted_people_merging_several=int(merging),
        largest_predicted_person=int(big),
    )


def markdown(score: IdentityScore, heading: str, command: str, seconds: float | None) -> str:
    """A Markdown section with both figure sets."""
    lines = [
        f"## {heading}",
        "",
        f"Command: `{command}`",
        "",
        f"Truth records: {score.truth_records:,}; not in the bridge (quarantined in staging): "
        f"{score.records_missing_from_bridge:,}; in the bridge but not in the truth: "
        f"{score.records_missing_from_truth:,}."
        + (f" Identity models built in {seconds:.1f} s." if seconds is not None else ""),
        "",
        "| records scored | records | precision | recall | F1 | people exact | people split "
        "| persons merging several | largest person |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, f in (("all", score.all_records), ("identifiable", score.identifiable)):
        lines.append(
            f"| {label} | {f.records:,} | {f.precision:.4f} | {f.recall:.4f} | {f.f1:.4f} "
            f"| {f.people_exact:.3f} | {f.people_split:,} | {f.predicted_people_merging_several:,} "
            f"| {f.largest_predicted_person:,} |"
        )
    return "\n".join(lines) + "\n"


def update_report(path: Path, section: str) -> None:
    """Write `section` into the report, replacing the section with the same heading."""
    title = "# Identity resolution against the truth\n"
    heading = section.splitlines()[0]
    sections = []
    if path.exists():
        body = path.read_text().removeprefix(title)
        sections = ["## " + part.strip() + "\n" for part in body.split("\n## ") if part.strip()]
        sections = [sec.replace("## ## ", "## ") for sec in sections]
    sections = [sec for sec in sections if sec.splitlines()[0] != heading] + [section]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(title + "\n" + "\n".join(sections))
