"""The warehouse's standardizing rules for code that keys data outside dbt.

The macros in `macros/standardize/` are the rules; the profile API, the ESP
sync and the serving snapshot key e-mails outside a dbt model, and take the
rule from here, so an address gets the same key in the warehouse, the API and
the sync:

- `normalize_email(text)` is the `normalize_email` macro,
  `nullif(lower(trim(x)), '')`, computed in Python exactly as DuckDB computes
  it (the warehouse the API and the sync read);
- `normalize_email_sql(expr)` is that macro's own SQL, rendered from the macro
  file, for queries written outside dbt.

What DuckDB's functions do, and Python's built-ins do not:

- `trim(x)` strips the Unicode space separators (category Zs: the space, the
  no-break space U+00A0, U+1680, U+2000-U+200A, U+202F, U+205F, U+3000) and
  nothing else: tabs, newlines and other control characters stay. `str.strip()`
  strips those too; `str.strip(" ")` misses the no-break space. (Snowflake's
  `trim(x)` strips the space U+0020 only: the two warehouses differ on an
  address padded with other space separators; see DECISIONS.md.)
- `lower(x)` maps each character on its own (Unicode simple case mapping).
  Python's `str.lower` uses the full mapping: U+0130 (capital I with dot)
  becomes two characters and a final capital sigma becomes 'ς'.

tests/python/test_standardize.py checks both against the macro run on DuckDB
for every code point.
"""

from __future__ import annotations

import functools

from mailroom import PROJECT_DIR

# The characters DuckDB's trim() strips: Unicode category Zs (utf8proc's), pinned here
# rather than read from `unicodedata`, whose Unicode version follows Python's.
SQL_TRIM_CHARS = (
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
MACRO_DIR = PROJECT_DIR / "macros" / "standardize"


def sql_lower(text: str) -> str:
    """SQL `lower`: each character's own lower case (no final-sigma rule, U+0130 to 'i')."""
    if text.isascii():
        return text.lower()
    return "".join(ch.lower() for ch in text.replace("\u0130", "i"))


def sql_trim(text: str) -> str:
    """SQL `trim` on DuckDB: leading and trailing Unicode space separators removed."""
    return text.strip(SQL_TRIM_CHARS)


def normalize_email(email: str | None) -> str | None:
    """The `normalize_email` macro: trimmed, lower-cased, and '' (or null) to None."""
    if email is None:
        return None
    return sql_lower(sql_trim(email)) or None


@functools.cache
def _macro(name: str):
    import jinja2  # dbt's template engine; only needed for SQL written outside dbt

    source = (MACRO_DIR / f"{name}.sql").read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    return getattr(env.from_string(source).module, name)


def normalize_email_sql(expr: str) -> str:
    """The `normalize_email` macro's SQL applied to the SQL expression `expr`.

    Rendered from macros/standardize/normalize_email.sql with plain Jinja, as
    dbt renders it (the macro calls no other macro: if it ever does, this
    fails instead of guessing).
    """
    return str(_macro("normalize_email")(expr)).strip()
