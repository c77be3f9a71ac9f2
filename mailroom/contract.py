"""The raw-data contract, read from the dbt sources YAML (its single source of truth).

Every raw table is text as landed plus a `_loaded_at` timestamp; `meta.required`
and `meta.format` on a column tell the loader what to insist on and validate.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from mailroom import PROJECT_DIR

RAW_SCHEMA = "raw"
LOADED_AT = "_loaded_at"
FORMATS = {"id", "email", "phone", "date", "timestamp", "decimal", "integer", "boolean", "json"}


@dataclass(frozen=True)
class Column:
    name: str
    description: str
    required: bool = False
    format: str | None = None
    pii: bool = False

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
                    meta = c.get("meta") or {}
                    fmt = meta.get("format")
                    if fmt is not None and fmt not in FORMATS:
                        raise ValueError(
                            f"{path}: column {t['name']}.{c['name']}: unknown format {fmt!r}"
                        )
                    cols.append(
                        Column(
                            name=c["name"],
                            description=c.get("description", ""),
                            required=bool(meta.get("required", False)),
                            format=fmt,
                            pii=bool(meta.get("pii", False)),
                        )
                    )
                if LOADED_AT not in [c.name for c in cols]:
                    raise ValueError(f"{path}: table {t['name']} lacks {LOADED_AT}")
                tables[t["name"]] = Table(
                    name=t["name"],
                    source=source["name"],
                    description=t.get("description", ""),
                    primary_key=(t.get("meta") or {})["primary_key"],
                    columns=tuple(cols),
                )
    if not tables:
        raise FileNotFoundError(f"no sources YAML under {project_dir / 'models' / 'staging'}")
    return tables
