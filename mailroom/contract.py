"""The raw-data contract, read from the dbt sources YAML (its single source of truth).

Every raw table is text as landed plus a `_loaded_at` timestamp. On a column,
`meta.required` marks a value the loader insists on (a row without it, or with a
value that does not parse, is rejected; the table's primary key must be required),
`meta.format` is the shape it validates and canonicalises, and `meta.aliases` lists
other header spellings the loader's name matching accepts for it, in order of
preference (`State`, `Province`, ... for `region`). A table's `meta.primary_key`
names its key. `meta` is written under `config:` (dbt 1.11 deprecates it as a
top-level property); a top-level `meta` is still read, merged as dbt merges them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from mailroom import PROJECT_DIR

RAW_SCHEMA = "raw"
LOADED_AT = "_loaded_at"
FORMATS = {"id", "email", "phone", "date", "timestamp", "decimal", "integer", "boolean", "json"}


def name_key(name: str) -> str:
    """A column name as the loader compares it: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    required: bool = False
    format: str | None = None
    pii: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def sql_type(self) -> str:
        return "timestamp" if self.name == LOADED_AT else "varchar"


@dataclass(frozen=True)
class Table:
    name: str
    source: str
    description: str
    primary_key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def data_columns(self) -> list[Column]:
        """Columns a file can supply (everything but the loader's `_loaded_at`)."""
        return [c for c in self.columns if c.name != LOADED_AT]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def create_sql(self, schema: str = RAW_SCHEMA) -> str:
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in self.columns)
        return f'create table if not exists {schema}."{self.name}" ({cols})'


def _source_files(project_dir: Path) -> list[Path]:
    return sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml"))


def _meta(entry: dict) -> dict:
    """A table's or column's meta: `config.meta` over a top-level `meta`, as dbt merges them."""
    return {**(entry.get("meta") or {}), **((entry.get("config") or {}).get("meta") or {})}


def _check_columns(path: Path, table: dict, cols: list[Column]) -> None:
    """The primary key is required; an alias never reads like another column's name."""
    pk = _meta(table).get("primary_key")
    if not any(c.name == pk and c.required for c in cols):
        raise ValueError(
            f"{path}: table {table['name']}: primary key {pk!r} must be a column with "
            "config.meta.required: true"
        )
    names = {name_key(c.name): c.name for c in cols}
    for c in cols:
        for alias in c.aliases:
            other = names.get(name_key(alias), c.name)
            if other != c.name:
                raise ValueError(
                    f"{path}: column {table['name']}.{c.name}: alias {alias!r} reads like "
                    f"column {other}"
                )


@cache
def load_contract(project_dir: Path = PROJECT_DIR) -> dict[str, Table]:
    """All raw tables keyed by table name, in a stable order."""
    tables: dict[str, Table] = {}
    for path in _source_files(project_dir):
        doc = yaml.safe_load(path.read_text())
        for source in doc.get("sources", []):
            for t in source.get("tables", []):
                cols = []
                for c in t.get("columns", []):
                    meta = _meta(c)
                    fmt = meta.get("format")
                    if fmt is not None and fmt not in FORMATS:
                        raise ValueError(
                            f"{path}: column {t['name']}.{c['name']}: unknown format {fmt!r}"
                        )
                    aliases = meta.get("aliases") or []
                    if not isinstance(aliases, list) or not all(
                        isinstance(a, str) and name_key(a) for a in aliases
                    ):
                        raise ValueError(
                            f"{path}: column {t['name']}.{c['name']}: aliases must be a list "
                            "of column names"
                        )
                    cols.append(
                        Column(
                            name=c["name"],
                            description=c.get("description", ""),
                            required=bool(meta.get("required", False)),
                            format=fmt,
                            pii=bool(meta.get("pii", False)),
                            aliases=tuple(aliases),
                        )
                    )
                if LOADED_AT not in [c.name for c in cols]:
                    raise ValueError(f"{path}: table {t['name']} lacks {LOADED_AT}")
                _check_columns(path, t, cols)
                tables[t["name"]] = Table(
                    name=t["name"],
                    source=source["name"],
                    description=t.get("description", ""),
                    primary_key=_meta(t)["primary_key"],
                    columns=tuple(cols),
                )
    if not tables:
        raise FileNotFoundError(f"no sources YAML under {project_dir / 'models' / 'staging'}")
    return tables
