"""mailroom.standardize: the Python twin of the `normalize_email` macro, checked against it.

The macro's SQL is not copied here: `normalize_email_sql` renders
macros/standardize/normalize_email.sql with Jinja, as dbt does (no dbt run
needed), and DuckDB evaluates it. Every code point is tried at both ends of an
address (what `trim` strips) and inside it (what `lower` maps), so the Python
function cannot drift from the warehouse's rule, nor from a new DuckDB or
Python release's Unicode tables, unnoticed.
"""

from __future__ import annotations

import duckdb
import yaml

from mailroom import PROJECT_DIR
from mailroom.standardize import (
    SQL_TRIM_CHARS,
    normalize_email,
    normalize_email_sql,
    sql_lower,
    sql_trim,
)

CRM_UNIT_TESTS = PROJECT_DIR / "models/staging/crm/_crm__unit_tests.yml"

BATTERY = [
    None,
    "",
    " ",
    "   ",
    "\u00a0",  # only a no-break space
    "\u3000 \u2003",  # only space separators
    "\t",
    "\n",
    " \t\n ",
    "ann.lee@example.com",
    " Ann.Lee@Example.COM ",
    "ANN@X.ORG",
    "\tann@x.org",  # DuckDB's trim keeps tabs ...
    "ann@x.org\n",  # ... and newlines
    "\r\nann@x.org\r\n",
    "\u00a0Ann@X.org\u00a0",  # ... but strips the no-break space
    "\u2009ann@x.org\u202f",  # thin and narrow no-break spaces
    "\u200bann@x.org",  # zero-width space: a format character, not a space
    "\ufeffann@x.org",  # byte order mark
    " \tann@x.org\t ",  # a space outside a tab: only the space goes
    "\u00a0\tann@x.org",
    "x\u00a0@y.org ",  # inner spaces stay
    "ann lee@x.org",
    "ΟΔΟΣ@ΠΑΡΑΔΕΙΓΜΑ.GR",  # final capital sigma: SQL lower gives σ, Python's str.lower ς
    "İSTANBUL@ÖRNEK.COM.TR",  # U+0130: one character in SQL, two in Python's str.lower
    "ÄÖÜ@Straße.DE",
    "ẞ@x.de",  # capital sharp s
    "ǅ@x.org",  # title-case digraph
    "Σ",
    "ДМИТРИЙ@ПРИМЕР.РФ",
    "用户@例子.广告",
    "🙂@x.org",
]


def crm_email_cases() -> list[tuple[str, str | None]]:
    """(input e-mail, expected e-mail) of the macro's own dbt unit test (crm contacts)."""
    tests = yaml.safe_load(CRM_UNIT_TESTS.read_text())["unit_tests"]
    (test,) = [
        t for t in tests if t["name"] == "crm_contacts_standardize_emails_names_countries_phones"
    ]
    (given,) = [g for g in test["given"] if g["input"] == "source('crm', 'crm_contacts')"]
    expected = {row["contact_id"]: row["email"] for row in test["expect"]["rows"]}
    return [(row["email"], expected[row["contact_id"]]) for row in given["rows"]]


def macro_on_duckdb(values: list[str | None]) -> list[tuple[str | None, str | None]]:
    """(value, the normalize_email macro's SQL on it) for each value, run on DuckDB."""
    sql = (
        f"select x, {normalize_email_sql('x')} from unnest(?) with ordinality as t(x, i) order by i"
    )
    with duckdb.connect() as con:
        return con.execute(sql, [values]).fetchall()


def mismatches(values: list[str | None]) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (x, sql, normalize_email(x))
        for x, sql in macro_on_duckdb(values)
        if normalize_email(x) != sql
    ]


def test_the_macro_renders_to_plain_sql() -> None:
    sql = normalize_email_sql("customers.email")
    assert "customers.email" in sql
    assert "{" not in sql and "%" not in sql
    assert sql == sql.strip()


def test_normalize_email_equals_the_macro_on_the_battery() -> None:
    assert mismatches(BATTERY) == []
    # spot checks of the rule itself, read in the battery's comments
    assert normalize_email(None) is None
    assert normalize_email("   ") is None
    assert normalize_email("\u00a0Ann@X.org\u00a0") == "ann@x.org"
    assert normalize_email("\tann@x.org") == "\tann@x.org"
    assert normalize_email("ΟΔΟΣ@ΠΑΡΑΔΕΙΓΜΑ.GR") == "οδοσ@παραδειγμα.gr"


def test_normalize_email_equals_the_macro_on_its_unit_test_cases() -> None:
    cases = crm_email_cases()
    assert len(cases) >= 10
    assert mismatches([raw for raw, _ in cases]) == []
    # where the unit test expects an e-mail (a valid one), it is the normalized input
    for raw, expected in cases:
        if expected is not None:
            assert normalize_email(raw) == expected


def test_normalize_email_equals_the_macro_for_every_code_point() -> None:
    """Each code point (surrogates aside) at both ends and inside an address: ~1.1M rows."""
    code_points = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    assert mismatches([c + "A" + c + "b@X.org" + c for c in code_points]) == []


def test_normalize_email_is_idempotent() -> None:
    """The sync re-keys addresses the marts already normalized: a second pass changes nothing."""
    for value in [*BATTERY, *SQL_TRIM_CHARS]:
        once = normalize_email(value)
        assert once is None or normalize_email(once) == once, value


def test_sql_trim_and_lower_name_what_duckdb_does() -> None:
    with duckdb.connect() as con:
        trimmed = con.execute(
            "select trim(?)", [SQL_TRIM_CHARS + "a\t" + SQL_TRIM_CHARS]
        ).fetchone()
        lowered = con.execute("select lower(?)", ["İΣ"]).fetchone()
    assert trimmed == (sql_trim(SQL_TRIM_CHARS + "a\t" + SQL_TRIM_CHARS),) == ("a\t",)
    assert lowered == (sql_lower("İΣ"),) == ("iσ",)
