"""Bring your own data: load CSV or Parquet files into the raw contract tables.

`mailroom load TABLE FILE [FILE...]` (or `load_files()` from Python) lands a user's
files in `raw.TABLE` exactly as the contract in `models/staging/*/_*__sources.yml`
describes it: every column text, canonicalised, plus `_loaded_at`.

`mailroom load FILE... --preset NAME` (or `mailroom.presets.load_preset()`) reads a
platform's export as the platform writes it - `shopify_orders`, `mailchimp_members`,
`klaviyo_profiles`, `transaction_log` - and fills every raw table it has data for;
without TABLE or `--preset`, `mailroom load FILE...` recognises the layout from the
header and says which preset it used (`--list-presets` lists them). A preset only
shapes the file into contract-shaped rows per table (`Shaped`, with the file's row
numbers); `load_shaped()` loads them with everything below (canonical values,
rejections with reasons, value issues, one transaction, one `_loaded_at` for every
table), and the report adds what the preset read (`SourceReport`: rows, columns used
and unused, its decisions). Each preset's mapping is documented in mailroom/presets.py.

How a load works
----------------
* **Columns.** Every contract column gets its value from one file column:
  an explicit mapping (`--map order_at=order_date` or the `columns:` section of a
  mapping YAML) wins; otherwise a file column with the same name is taken, compared
  case-insensitively and ignoring spaces, dashes and underscores (`First Name` feeds
  `first_name`, `Address Line 2` feeds `address_line_2`); failing that, the first
  of the column's `meta.aliases` in the contract found in the file, compared the
  same way, among the file columns not taken by name (`State`, `Province` or
  `County` feed `region`, `Address 2` feeds `address_line_2`, `Zip` feeds
  `postcode`). Contract columns with no source land NULL (or their default, see
  `--currency` / `defaults:`); file columns that feed nothing are reported. A
  required column with no source is a hard error, except the table's primary key:
  when it is missing, a deterministic key `<file name>:<row number>` is synthesised
  (e.g. `tx.csv:17`) and the report says so. Map a column to nothing
  (`--map updated_at=`) to stop it being matched by name or alias.
* **Values** are trimmed; empty cells, `NULL`, `null` and `\\N` are NULL, and so are
  `na`, `n/a`, `none`, `nan` and `nat` (any case) in date, timestamp, number,
  boolean and JSON columns. Then, by the column's `meta.format`:

  - date: `--date-format` patterns first, then ISO (`2024-01-05`, `2024/1/5`,
    or a timestamp's date) -> `YYYY-MM-DD`;
  - timestamp: `--timestamp-format` patterns, then `--date-format` patterns
    (midnight), then ISO 8601 with or without an offset -> `YYYY-MM-DDTHH:MM:SSZ`
    in UTC (sub-second digits are dropped). A time without an offset is read in
    `--timezone` (default UTC);
  - decimal: `1234.5`, `1,234.50`, `-EUR 12.50`, `12.50 €`; with
    `--decimal-comma`: `12,50`, `1.234,50`, `1 234,50` -> plain `1234.50`
    (digits kept as written, no float rounding). A bare `12,50` without
    `--decimal-comma` does not read (it is never taken for 1250);
  - integer: like decimal, and the fraction must be zero -> `1234`;
  - boolean: true/t/yes/y/1/on and false/f/no/n/0/off -> `true` / `false`;
  - json: must parse; kept as written;
  - id, email, phone and plain text: trimmed text. E-mail syntax is not checked
    here: staging quarantines bad addresses.

  Typed Parquet columns are used as typed (dates, timestamps - naive ones in
  `--timezone` -, numbers, booleans; nested values become JSON text).
* **Required values reject a row, other values do not.** A column is required
  when the contract marks it `meta.required: true` (the primary key always is).
  A row whose required value is missing or does not parse is not loaded. It goes
  to `raw.load_rejections` (load_id, loaded_at, target_table, file_name,
  row_number, reason, raw_row) with every failed required check, e.g.
  `missing_required:order_id`, `bad_timestamp:order_at`,
  `bad_decimal:total_amount; missing_required:order_at`, and the original row
  as JSON. CSV lines with the wrong number of fields are rejected as
  `malformed_row` (row_number NULL, the line's text in raw_row). For every file,
  rows read = rows loaded + rows rejected.
* **Unreadable optional values.** An optional value that does not parse (a birth
  date `31/02/1985` or `unknown`, an amount `12,50` without `--decimal-comma`,
  JSON that is cut off) lands NULL and its row is loaded. Each such value is one
  row of `raw.load_value_issues` (load_id, loaded_at, target_table, file_name,
  row_number, record_id - the loaded row's primary key -, column_name, reason -
  `bad_<format>`, e.g. `bad_date` -, raw_value - the value as read, trimmed) and
  is counted per column in the report (`birth_date: 3 values could not be read
  (bad_date), kept as NULL`). These are counted apart from rows: a loaded row
  can have several, a rejected row has none (its raw_row keeps everything).
  Staging checks values again for its own quarantine (e-mail syntax, impossible
  dates, unknown currencies): that is a different step, on what was loaded.
* **Row numbers** count data rows from 1 (the header is not a row; malformed
  lines are not counted).
* **Transactions.** All files of one call load in one transaction: a hard error
  (unreadable file, bad mapping, ...) leaves the warehouse untouched. `--replace`
  empties the table first (inside the same transaction); the default appends.
  Every row of one load shares one `_loaded_at` (UTC), across every table a preset
  fills (a preset refuses `--replace`, `--map` and `--mapping`).
* **Memory.** Files are streamed: CSV in blocks of a few MB (pyarrow), Parquet in
  batches of `batch_rows`; parsing is vectorised in DuckDB SQL.

Supported files: `.csv`, `.tsv`, `.txt` (optionally `.gz`), `.parquet`/`.pq`.
The CSV delimiter is sniffed from the header line (`,` `;` tab `|`) unless given.

Mapping YAML
------------
One file can describe a whole load; every key is optional, and command-line
options override it (`--map` entries override `columns:` entries one by one)::

    table: shop_orders              # the contract table
    files:                          # relative paths are relative to this YAML file
      - exports/transactions_2025.csv
    columns:                        # contract column: file column
      order_at: Datum
      total_amount: Betrag
      item_count: Menge
      updated_at: null              # leave NULL, do not match by name
    defaults:                       # for columns the file lacks or leaves empty
      currency: EUR
    date_format: "%d.%m.%Y"         # or a list; `DD.MM.YYYY`-style tokens work too
    timestamp_format: "%d.%m.%Y %H:%M"
    timezone: Europe/Berlin         # for timestamps without an offset
    decimal_comma: true
    delimiter: ";"
    encoding: latin-1
    replace: false                  # true = empty the table first

Use it with `mailroom load --mapping orders.yml` (table and files from the YAML)
or `mailroom load shop_orders new.csv --mapping orders.yml`.

Hard errors (`LoadError`; exit code 2 on the command line, one-line message, nothing
written): unknown table, missing or unreadable file, unsupported extension, a
mapping naming a contract column that does not exist or a file column that is not
in the file, a required column with no source, bad mapping YAML, bad options.
"""

from __future__ import annotations

import datetime as dt
import gzip
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import typer
import yaml

from mailroom.contract import LOADED_AT, RAW_SCHEMA, Column, Table, load_contract, name_key
from mailroom.warehouse import connect, ensure_raw_schema, warehouse_path

REJECTIONS_TABLE = "load_rejections"
REJECTIONS_COLUMNS = (
    ("load_id", "varchar"),
    ("loaded_at", "timestamp"),
    ("target_table", "varchar"),
    ("file_name", "varchar"),
    ("row_number", "bigint"),
    ("reason", "varchar"),
    ("raw_row", "varchar"),
)
VALUE_ISSUES_TABLE = "load_value_issues"
VALUE_ISSUES_COLUMNS = (
    ("load_id", "varchar"),
    ("loaded_at", "timestamp"),
    ("target_table", "varchar"),
    ("file_name", "varchar"),
    ("row_number", "bigint"),
    ("record_id", "varchar"),
    ("column_name", "varchar"),
    ("reason", "varchar"),
    ("raw_value", "varchar"),
)
CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
PARQUET_EXTENSIONS = (".parquet", ".pq", ".parq")
SUPPORTED = ", ".join([*CSV_EXTENSIONS, *PARQUET_EXTENSIONS, "(CSV also .gz)"])
MALFORMED = "malformed_row"

_CSV_BLOCK_BYTES = 8 << 20
_ROW = "__mailroom_row__"
_BATCH = "__mailroom_batch__"
_STAGE = "__mailroom_stage__"
_TRIM_CHARS = " \t\r\n\u00a0\u202f\ufeff"
_EDGE_SPACE = f"^[{_TRIM_CHARS}]|[{_TRIM_CHARS}]$"
_TEXT_NULLS = ("NULL", "null", "\\N")
_TYPED_NULLS = ("null", "none", "nan", "nat", "n/a", "na", "\\n")
_TYPED_FORMATS = {"date", "timestamp", "decimal", "integer", "boolean", "json"}
_TRUE = ("true", "t", "yes", "y", "1", "on")
_FALSE = ("false", "f", "no", "n", "0", "off")
_CURRENCY = r"(?:[$€£¥]|[A-Z]{3})"
_TOKENS = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "SS": "%S"}
_TOKENS.update({"ss": "%S"})
_MAPPING_KEYS = {
    "table",
    "files",
    "columns",
    "defaults",
    "date_format",
    "timestamp_format",
    "timezone",
    "decimal_comma",
    "delimiter",
    "encoding",
    "currency",
    "replace",
}


class LoadError(Exception):
    """A hard error: nothing is loaded; the message is one line meant for the user."""


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class LoadOptions:
    """How to read the files and where the values go.

    `mapping` maps contract column -> file column (None: leave the contract column
    NULL, do not match it by name). `defaults` fills contract columns the file lacks
    or leaves empty; `currency` is a shortcut for `defaults["currency"]`.
    """

    mapping: Mapping[str, str | None] = field(default_factory=dict)
    defaults: Mapping[str, str] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ()
    timestamp_formats: tuple[str, ...] = ()
    timezone: str = "UTC"
    decimal_comma: bool = False
    delimiter: str | None = None
    encoding: str = "utf-8"
    currency: str | None = None
    replace: bool = False
    dry_run: bool = False
    batch_rows: int = 100_000


@dataclass(frozen=True)
class MappingFile:
    """A parsed mapping YAML: the table and files it names, and the options it sets."""

    path: Path
    table: str | None
    files: tuple[Path, ...]
    settings: Mapping[str, Any]

    def options(self, **overrides: Any) -> LoadOptions:
        """LoadOptions from this file; `overrides` (LoadOptions fields) win.

        `mapping` and `defaults` overrides are merged key by key.
        """
        return _merge_options(self.settings, overrides)


def read_mapping_file(path: str | Path) -> MappingFile:
    """Parse and validate a mapping YAML (format: see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise LoadError(f"mapping file not found: {path}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as e:
        raise LoadError(f"bad mapping file {path}: {_one_line(e)}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise LoadError(f"bad mapping file {path}: expected a mapping of keys, got {_kind(doc)}")
    unknown = sorted(set(map(str, doc)) - _MAPPING_KEYS)
    if unknown:
        raise LoadError(
            f"bad mapping file {path}: unknown key {', '.join(map(repr, unknown))} "
            f"(expected: {', '.join(sorted(_MAPPING_KEYS))})"
        )

    def bad(key: str, expected: str) -> LoadError:
        return LoadError(
            f"bad mapping file {path}: '{key}' must be {expected}, got {_kind(doc[key])}"
        )

    def text(key: str) -> str | None:
        value = doc.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise bad(key, "a string")
        return str(value)

    def text_map(key: str, allow_null: bool) -> dict[str, str | None]:
        value = doc.get(key) or {}
        if not isinstance(value, dict):
            raise bad(key, "a mapping of contract column to value")
        out: dict[str, str | None] = {}
        for k, v in value.items():
            if v is None and allow_null:
                out[str(k)] = None
            elif isinstance(v, str | int | float) and not isinstance(v, bool):
                out[str(k)] = str(v)
            else:
                raise LoadError(
                    f"bad mapping file {path}: {key}.{k} must be a string, got {_kind(v)}"
                )
        return out

    def formats(key: str) -> tuple[str, ...] | None:
        value = doc.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise bad(key, "a string or a list of strings")

    def flag(key: str) -> bool | None:
        value = doc.get(key)
        if value is None or isinstance(value, bool):
            return value
        raise bad(key, "true or false")

    files = doc.get("files") or []
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise bad("files", "a list of paths")

    settings: dict[str, Any] = {
        "mapping": text_map("columns", allow_null=True),
        "defaults": text_map("defaults", allow_null=False),
        "date_formats": formats("date_format"),
        "timestamp_formats": formats("timestamp_format"),
        "timezone": text("timezone"),
        "decimal_comma": flag("decimal_comma"),
        "delimiter": text("delimiter"),
        "encoding": text("encoding"),
        "currency": text("currency"),
        "replace": flag("replace"),
    }
    return MappingFile(
        path=path,
        table=text("table"),
        files=tuple(path.parent / f for f in files),
        settings={k: v for k, v in settings.items() if v is not None},
    )


def _merge_options(settings: Mapping[str, Any], overrides: Mapping[str, Any]) -> LoadOptions:
    unknown = set(overrides) - set(LoadOptions.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown LoadOptions fields: {sorted(unknown)}")
    merged = {**settings, **overrides}
    for key in ("mapping", "defaults"):
        merged[key] = {**settings.get(key, {}), **overrides.get(key, {})}
    return LoadOptions(**merged)


def parse_map_options(items: Sequence[str]) -> dict[str, str | None]:
    """`["order_at=order_date", "updated_at="]` -> {"order_at": "order_date", "updated_at": None}."""
    mapping: dict[str, str | None] = {}
    for item in items:
        contract_col, sep, file_col = item.partition("=")
        if not sep or not contract_col.strip():
            raise LoadError(f"bad --map {item!r}: expected CONTRACT_COLUMN=FILE_COLUMN")
        mapping[contract_col.strip()] = file_col.strip() or None
    return mapping


def to_strftime(pattern: str) -> str:
    """A strftime pattern as is; `YYYYMMDD`-style tokens (YYYY YY MM DD HH mm SS) translated."""
    if "%" in pattern:
        return pattern
    return re.sub(
        "|".join(sorted(_TOKENS, key=len, reverse=True)), lambda m: _TOKENS[m[0]], pattern
    )


# --------------------------------------------------------------------------- reports


@dataclass
class SourceReport:
    """What a preset read from one file before loading: its rows, the columns it used and
    left, and what it decided (guest orders, statuses, rows it could not use)."""

    file: Path
    layout: str  # e.g. "Mailchimp unsubscribed members export"
    rows_read: int = 0  # data rows of the file, malformed lines included
    used_columns: list[str] = field(default_factory=list)
    unused_columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.file}: {self.layout}, {self.rows_read:,} rows read"]
        if self.used_columns:
            out.append(f"  used columns: {', '.join(self.used_columns)}")
        if self.unused_columns:
            out.append(
                "  unused columns (no place in the raw contract): " + ", ".join(self.unused_columns)
            )
        out.extend(f"  {note}" for note in self.notes)
        return out


@dataclass
class FileReport:
    """What happened to one file."""

    file: Path
    rows_read: int = 0
    rows_loaded: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    # (column, reason) -> values that did not read and were loaded as NULL, contract order
    value_issues: dict[tuple[str, str], int] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    unmapped_columns: list[str] = field(default_factory=list)
    synthesized_key: str | None = None
    renamed_columns: dict[str, str] = field(default_factory=dict)  # new name -> header text
    table: str | None = None  # the raw table, when a load fills several (presets)
    shaped: bool = False  # rows a preset shaped from the file, not the file's own rows

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejections.values())

    @property
    def values_unread(self) -> int:
        """Optional values that did not read, loaded as NULL (their rows are loaded)."""
        return sum(self.value_issues.values())


@dataclass
class LoadReport:
    """What one load did: per file counts, plus the ids to find its rejections."""

    table: str
    load_id: str
    loaded_at: dt.datetime
    warehouse: str
    replaced: bool = False
    dry_run: bool = False
    files: list[FileReport] = field(default_factory=list)
    preset: str | None = None  # the preset that shaped the files (mailroom.presets)
    sources: list[SourceReport] = field(default_factory=list)  # what the preset read

    @property
    def tables(self) -> list[str]:
        """The raw tables this load filled, in the order of its files."""
        return list(dict.fromkeys(f.table or self.table for f in self.files))

    def rows_loaded_into(self, table: str) -> int:
        return sum(f.rows_loaded for f in self.files if (f.table or self.table) == table)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def values_unread(self) -> int:
        return sum(f.values_unread for f in self.files)

    def lines(self) -> list[str]:
        """A plain-text rendering of the report (what `mailroom load` prints)."""
        out: list[str] = []
        for source in self.sources:
            out.extend(source.lines())
        target = f"{RAW_SCHEMA}.{self.table}"
        for f in self.files:
            out.append(f"{f.file} -> {RAW_SCHEMA}.{f.table or self.table}")
            out.append(
                f"  rows {'shaped' if f.shaped else 'read'} {f.rows_read:,}, "
                f"loaded {f.rows_loaded:,}, rejected {f.rows_rejected:,}"
            )
            for reason, n in sorted(f.rejections.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"    rejected {n:,} x {reason}")
            for (column, reason), n in f.value_issues.items():
                values = "value" if n == 1 else "values"
                out.append(f"  {column}: {n:,} {values} could not be read ({reason}), kept as NULL")
            if not f.shaped:  # a preset's report says which file columns it used
                mapped = [f"{c} <- {src}" for c, src in f.columns.items()]
                out.append(f"  columns: {', '.join(mapped) if mapped else '(none)'}")
            if f.synthesized_key:
                out.append(
                    f"  {f.synthesized_key} is not in the file: synthesised as "
                    f"'{f.file.name}:<row number>'"
                )
            for new, old in f.renamed_columns.items():
                out.append(f"  file column {old!r} read as {new!r} (duplicate or empty name)")
            if f.unmapped_columns:
                out.append(f"  unmapped file columns (ignored): {', '.join(f.unmapped_columns)}")
        n = self.rows_loaded
        verb = "would be" if self.dry_run else "was" if n == 1 else "were"
        tables = self.tables
        if len(tables) > 1:
            target = ", ".join(f"{RAW_SCHEMA}.{t} ({self.rows_loaded_into(t):,})" for t in tables)
        where = (
            f"loaded into {target} (replacing its rows)"
            if self.replaced
            else f"appended to {target}"
        )
        unread = self.values_unread
        nulled = (
            f", {unread:,} unreadable value{'' if unread == 1 else 's'} kept as NULL"
            if unread
            else ""
        )
        summary = (
            f"{n:,} row{'' if n == 1 else 's'} {verb} {where} in {self.warehouse}, "
            f"{self.rows_rejected:,} rejected{nulled} (load_id {self.load_id})"
        )
        out.append(summary)
        if self.rows_rejected and not self.dry_run:
            out.append(
                f"rejected rows: select * from {RAW_SCHEMA}.{REJECTIONS_TABLE} "
                f"where load_id = '{self.load_id}'"
            )
        if unread and not self.dry_run:
            out.append(
                f"unreadable values: select * from {RAW_SCHEMA}.{VALUE_ISSUES_TABLE} "
                f"where load_id = '{self.load_id}'"
            )
        if self.dry_run:
            out.append("dry run: nothing was written")
        return out


# --------------------------------------------------------------------------- sources


@dataclass
class _Source:
    path: Path
    kind: str  # csv | parquet | shaped (rows a preset shaped, in memory)
    names: list[str]
    types: list[pa.DataType]
    renamed: dict[str, str]
    delimiter: str = ","
    malformed: list[tuple[str, int, int]] = field(default_factory=list)
    data: pa.Table | None = None  # shaped: contract columns, ROW_COLUMN, maybe REASON_COLUMN
    reason_column: str | None = None  # shaped: the preset's own reason to reject a row

    @property
    def numbered(self) -> bool:
        """Whether the batches carry their own row numbers (a preset's: the file's rows)."""
        return self.kind == "shaped"

    def batches(self, options: LoadOptions) -> Iterator[pa.RecordBatch]:
        if self.data is not None:
            yield from self.data.to_batches(max_chunksize=options.batch_rows)
            return
        if self.kind == "parquet":
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=options.batch_rows):
                yield batch.rename_columns(self.names)
            return
        reader = self._open_csv(options, self.names)
        for batch in reader:
            yield batch

    def _open_csv(self, options: LoadOptions, names: list[str] | None) -> pcsv.CSVStreamingReader:
        def invalid(row: Any) -> str:
            self.malformed.append((row.text, row.expected_columns, row.actual_columns))
            return "skip"

        read = pcsv.ReadOptions(
            encoding=options.encoding,
            block_size=_CSV_BLOCK_BYTES,
            column_names=names if names and self.renamed else None,
            skip_rows=1 if names and self.renamed else 0,
        )
        parse = pcsv.ParseOptions(
            delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=invalid
        )
        convert = pcsv.ConvertOptions(
            column_types={n: pa.string() for n in names} if names else None,
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        return pcsv.open_csv(
            str(self.path), read_options=read, parse_options=parse, convert_options=convert
        )


def _open_source(path: Path, options: LoadOptions) -> _Source:
    if not path.exists():
        raise LoadError(f"file not found: {path}")
    if not path.is_file():
        raise LoadError(f"not a file: {path}")
    suffixes = [s.lower() for s in path.suffixes]
    ext = suffixes[-2] if len(suffixes) >= 2 and suffixes[-1] == ".gz" else path.suffix.lower()
    try:
        if ext in PARQUET_EXTENSIONS and suffixes[-1] != ".gz":
            schema = pq.ParquetFile(path).schema_arrow
            names, renamed = _dedupe([f.name for f in schema])
            return _Source(path, "parquet", names, [f.type for f in schema], renamed)
        if ext in CSV_EXTENSIONS:
            delimiter = _delimiter(path, ext, options)
            src = _Source(path, "csv", [], [], {}, delimiter=delimiter)
            probe = src._open_csv(options, None)
            header = probe.schema.names
            probe.close()
            src.malformed.clear()
            names, renamed = _dedupe(header)
            src.names, src.renamed = names, renamed
            src.types = [pa.string()] * len(names)
            return src
    except (pa.ArrowException, OSError, UnicodeError, LookupError, ValueError) as e:
        raise _read_error(path, e) from None
    shown = "".join(path.suffixes[-2:]) or "(none)"
    raise LoadError(f"unsupported file type {shown} for {path} (supported: {SUPPORTED})")


def read_header(path: Path, options: LoadOptions) -> list[str]:
    """A file's column names as the loader reads them (an empty or repeated name renamed)."""
    return _open_source(path, options).names


def _delimiter(path: Path, ext: str, options: LoadOptions) -> str:
    if options.delimiter:
        named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
        delim = named.get(options.delimiter.lower(), options.delimiter)
        if len(delim) != 1:
            raise LoadError(f"bad --delimiter {options.delimiter!r}: expected one character")
        return delim
    if ext == ".tsv":
        return "\t"
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        head = fh.read(64 << 10)
    first = head.decode(options.encoding, errors="replace").lstrip("\ufeff").splitlines()
    line = first[0] if first else ""
    line = re.sub(r'"[^"]*"', "", line)  # ignore delimiters inside quoted names
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _dedupe(names: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    out: list[str] = []
    renamed: dict[str, str] = {}
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        new = name if name.strip() else f"column_{i}"
        n = 2
        while new in seen:
            new, n = f"{name}_{n}", n + 1
        seen.add(new)
        out.append(new)
        if new != name:
            renamed[new] = name
    return out, renamed


# --------------------------------------------------------------------------- planning


_key = name_key


def _find_column(names: Sequence[str], wanted: str) -> list[str]:
    """File columns matching `wanted`: exact, else case-insensitive, else by `_key`."""
    for match in (
        lambda n: n == wanted,
        lambda n: n.strip().lower() == wanted.strip().lower(),
        lambda n: _key(n) == _key(wanted) and _key(wanted) != "",
    ):
        found = [n for n in names if match(n)]
        if found:
            return found
    return []


def _find_by_alias(names: Sequence[str], col: Column, taken: set[str]) -> list[str]:
    """File columns matching the first of `col.aliases` found among `names` (not `taken`)."""
    for alias in col.aliases:
        found = [n for n in _find_column(names, alias) if n not in taken]
        if found:
            return found
    return []


@dataclass
class _Plan:
    source: _Source
    columns: dict[str, str | None]  # contract column -> file column
    synthesized_key: str | None
    unmapped: list[str]


def _plan(table: Table, src: _Source, options: LoadOptions, defaults: Mapping[str, str]) -> _Plan:
    columns: dict[str, str | None] = {}
    for col in table.data_columns:
        if col.name in options.mapping:
            wanted = options.mapping[col.name]
            if wanted is None:
                columns[col.name] = None
                continue
            found = _find_column(src.names, wanted)
            if len(found) != 1:
                problem = "is not in" if not found else "is ambiguous in"
                raise LoadError(
                    f"column {wanted!r} (mapped to {col.name}) {problem} {src.path} "
                    f"(file columns: {', '.join(src.names)})"
                )
            columns[col.name] = found[0]
        else:
            found = _find_column(src.names, col.name)
            if len(found) > 1:
                raise LoadError(
                    f"{src.path} has several columns that could be {col.name} "
                    f"({', '.join(found)}); choose one with --map {col.name}=COLUMN"
                )
            columns[col.name] = found[0] if found else None

    # contract aliases (`State` for region) only for columns no file column has by name
    taken = {n for n in columns.values() if n is not None}
    for col in table.data_columns:
        if col.name in options.mapping or columns[col.name] is not None:
            continue
        found = _find_by_alias(src.names, col, taken)
        if len(found) > 1:
            raise LoadError(
                f"{src.path} has several columns that could be {col.name} "
                f"({', '.join(found)}); choose one with --map {col.name}=COLUMN"
            )
        if found:
            columns[col.name] = found[0]
            taken.add(found[0])

    synthesized = None
    for col in table.data_columns:
        if col.required and columns[col.name] is None and col.name not in defaults:
            if col.name == table.primary_key:
                synthesized = col.name
                continue
            raise LoadError(
                f"required column {col.name} of {table.name} has no source column in "
                f"{src.path}; map one with --map {col.name}=FILE_COLUMN "
                f"(file columns: {', '.join(src.names)})"
            )
    used = set(columns.values())
    unmapped = [n for n in src.names if n not in used]
    return _Plan(src, columns, synthesized, unmapped)


def _check_options(table: Table, options: LoadOptions) -> dict[str, str]:
    """Validate options against the table; returns the effective defaults."""
    names = table.column_names
    valid = ", ".join(c.name for c in table.data_columns)
    for col in options.mapping:
        if col not in names or col == LOADED_AT:
            raise LoadError(
                f"unknown column {col!r} in mapping: {table.name} has no such column "
                f"(columns: {valid})"
            )
    defaults = dict(options.defaults)
    if options.currency is not None:
        defaults["currency"] = options.currency
        if "currency" not in names:
            raise LoadError(f"--currency given but {table.name} has no currency column")
    for col in defaults:
        if col not in names or col == LOADED_AT:
            raise LoadError(
                f"unknown column {col!r} in defaults: {table.name} has no such column "
                f"(columns: {valid})"
            )
    if options.batch_rows < 1:
        raise LoadError("batch_rows must be at least 1")
    try:
        "".encode(options.encoding)
    except LookupError:
        raise LoadError(f"unknown encoding {options.encoding!r}") from None
    check = duckdb.connect()
    try:
        set_timezone(check, options.timezone)
        for kind, patterns in (
            ("date", options.date_formats),
            ("timestamp", options.timestamp_formats),
        ):
            for pattern in patterns:
                try:
                    check.execute("select try_strptime('', ?)", [to_strftime(pattern)])
                except duckdb.Error as e:
                    raise LoadError(f"bad {kind} format {pattern!r}: {_one_line(e)}") from None
    finally:
        check.close()
    return defaults


def _resolve_table(table: str) -> Table:
    contract = load_contract()
    if table not in contract:
        raise LoadError(f"unknown table {table!r}; valid tables: {', '.join(contract)}")
    return contract[table]


# --------------------------------------------------------------------------- SQL


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"


def _pre_text(col: str, typ: pa.DataType) -> tuple[str, bool]:
    """SQL turning a (typed) source column into text; True if it is a typed number."""
    x = _ident(col)
    if pa.types.is_floating(typ):
        return (
            f"(case when isnan({x}) or isinf({x}) then null "
            f"when {x} = trunc({x}) and abs({x}) < 1e15 then cast(cast({x} as bigint) as varchar) "
            f"else coalesce(rtrim(rtrim(cast(try_cast(round({x}, 10) as decimal(38, 10)) "
            f"as varchar), '0'), '.'), cast({x} as varchar)) end)",
            True,
        )
    if pa.types.is_integer(typ) or pa.types.is_decimal(typ):
        return f"cast({x} as varchar)", True
    if pa.types.is_boolean(typ):
        return f"(case when {x} then 'true' when not {x} then 'false' end)", False
    if pa.types.is_date(typ):
        return f"strftime(cast({x} as date), '%Y-%m-%d')", False
    if pa.types.is_timestamp(typ):
        if typ.tz is None:
            return f"strftime(cast({x} as timestamp), '%Y-%m-%d %H:%M:%S.%f')", False
        return (
            f"strftime(timezone('UTC', cast({x} as timestamptz)), '%Y-%m-%dT%H:%M:%S.%fZ')",
            False,
        )
    if pa.types.is_nested(typ):
        return f"cast(to_json({x}) as varchar)", False
    return f"cast({x} as varchar)", False


def _regex_alternatives(words: Sequence[str]) -> str:
    return "|".join(re.escape(w) for w in words)


def _number_shape(comma: bool) -> tuple[str, str, str]:
    """(full-match regex of a number, thousands separators, decimal mark)."""
    thousands, point = ("[.'\u00a0\u202f ]", ",") if comma else ("[,'\u00a0\u202f ]", ".")
    p = re.escape(point)
    shape = f"[+-]?(?:\\d{{1,3}}(?:{thousands}\\d{{3}})+|\\d+)(?:{p}\\d*)?|[+-]?{p}\\d+"
    return shape, thousands, point


def decimal_sql(expr: str, decimal_comma: bool) -> str:
    """SQL reading an amount as the loader reads decimals (`1,234.50`, `EUR 12`, `12,50 €`
    with `decimal_comma`) into a decimal(38, 6); NULL when it does not read."""
    shape, thousands, point = _number_shape(decimal_comma)
    bare = (
        f"regexp_replace(regexp_replace({expr}, '^([+-]?)\\s*{_CURRENCY}\\s*', '\\1'), "
        f"'\\s*{_CURRENCY}$', '')"
    )
    plain = f"regexp_replace({bare}, {_lit(thousands)}, '', 'g')"
    if point != ".":
        plain = f"replace({plain}, {_lit(point)}, '.')"
    return (
        f"case when regexp_full_match({bare}, {_lit(shape)}) "
        f"then try_cast({plain} as decimal(38, 6)) end"
    )


def _date_sql(v: str, options: LoadOptions) -> str:
    date_fmts = [to_strftime(f) for f in options.date_formats]
    parts = [f"cast(try_strptime({v}, {_list(date_fmts)}) as date)"] if date_fmts else []
    parts += [f"try_cast({v} as date)", f"cast(try_cast({v} as timestamptz) as date)"]
    return f"strftime(coalesce({', '.join(parts)}), '%Y-%m-%d')"


def _timestamp_sql(v: str, options: LoadOptions) -> str:
    date_fmts = [to_strftime(f) for f in options.date_formats]
    ts_fmts = [to_strftime(f) for f in options.timestamp_formats]
    zoned = [f for f in ts_fmts if "%z" in f or "%Z" in f]
    naive = [f for f in ts_fmts if f not in zoned]
    parts = [f"try_strptime({v}, {_list(zoned)})"] if zoned else []
    for fmts in (naive, date_fmts):
        if fmts:  # naive values are read in the session time zone (--timezone)
            parts.append(f"cast(try_strptime({v}, {_list(fmts)}) as timestamptz)")
    parts.append(f"try_cast({v} as timestamptz)")
    return f"strftime(timezone('UTC', coalesce({', '.join(parts)})), '%Y-%m-%dT%H:%M:%SZ')"


class _Query:
    """A stack of `select *, <exprs> from (...)` levels, so that each value is computed once."""

    def __init__(self, source: str, first: Sequence[str]) -> None:
        self.sql = f"select {', '.join(first)} from {source}"

    def add(self, exprs: Sequence[str]) -> None:
        if exprs:
            self.sql = f"select *, {', '.join(exprs)} from ({self.sql})"


@dataclass(frozen=True)
class _Checked:
    """An optional typed column of the stage and its `unread` column."""

    column: str
    reason: str  # bad_<format>
    unread: str  # stage column: the value as read (trimmed) when it did not parse, else NULL


def _stage_sql(
    table: Table, plan: _Plan, options: LoadOptions, defaults: Mapping[str, str]
) -> tuple[str, list[_Checked]]:
    """One batch -> row_number, raw_row (rejected rows only), canonical columns, reason,
    and per optional typed column an `unread` column (listed in the result).

    `reason` (the row is rejected) lists the required values that are missing or do
    not read; an optional value that does not read is NULL in its column and flagged
    in its issue column instead.
    """
    src = plan.source
    types = dict(zip(src.names, src.types, strict=True))
    text_nulls = _regex_alternatives(_TEXT_NULLS)
    typed_nulls = f"(?i:{_regex_alternatives(_TYPED_NULLS)})"
    trues = f"(?i:{_regex_alternatives(_TRUE)})"
    falses = f"(?i:{_regex_alternatives(_FALSE)})"

    trimmed, values, stripped, numbers, parts, finals, reasons = ([] for _ in range(7))
    issues: list[str] = []
    checked: list[_Checked] = []
    for i, col in enumerate(table.data_columns):
        source, fmt = plan.columns[col.name], col.format
        v, k = f"__v{i}", f"__k{i}"
        if col.name == plan.synthesized_key:
            finals.append(f"{_lit(src.path.name + ':')} || cast({_ROW} as varchar) as {k}")
            continue
        default = _lit(defaults[col.name]) if col.name in defaults else None
        if source is None and default is None:
            finals.append(f"cast(null as varchar) as {k}")
            continue
        typed_number = False
        if source is None:
            values.append(f"cast({default} as varchar) as {v}")
        else:
            pre, typed_number = _pre_text(source, types[source])
            t = f"__t{i}"
            # trim() with a character list is slow: only call it when there is something to trim
            trimmed.append(
                f"case when regexp_matches({pre}, {_lit(_EDGE_SPACE)}) "
                f"then trim({pre}, {_lit(_TRIM_CHARS)}) else {pre} end as {t}"
            )
            nulls = typed_nulls if fmt in _TYPED_FORMATS else text_nulls
            value = f"case when {t} = '' or regexp_full_match({t}, {_lit(nulls)}) then null else {t} end"
            values.append(f"{f'coalesce({value}, {default})' if default else value} as {v}")
        if fmt in ("decimal", "integer"):
            comma = options.decimal_comma and not typed_number
            shape, thousands, point = _number_shape(comma)
            c, n = f"__c{i}", f"__n{i}"
            stripped.append(
                f"regexp_replace(regexp_replace({v}, '^([+-]?)\\s*{_CURRENCY}\\s*', '\\1'), "
                f"'\\s*{_CURRENCY}$', '') as {c}"
            )
            plain = f"regexp_replace({c}, {_lit(thousands)}, '', 'g')"
            if point != ".":
                plain = f"replace({plain}, {_lit(point)}, '.')"
            numbers.append(
                f"case when regexp_full_match({c}, {_lit(shape)}) then {plain} end as {n}"
            )
            neg, whole, frac = f"__neg{i}", f"__w{i}", f"__f{i}"
            parts += [
                f"starts_with({n}, '-') as {neg}",
                f"coalesce(nullif(ltrim(split_part(ltrim({n}, '+-'), '.', 1), '0'), ''), '0') "
                f"as {whole}",
                f"split_part({n}, '.', 2) as {frac}",
            ]
            zero_frac = f"rtrim({frac}, '0') = ''"
            if fmt == "integer":
                final = (
                    f"case when {n} is null or not {zero_frac} then null "
                    f"when {neg} and {whole} <> '0' then '-' || {whole} else {whole} end"
                )
            else:
                body = f"{whole} || case when {frac} <> '' then '.' || {frac} else '' end"
                final = (
                    f"case when {n} is null then null "
                    f"when {neg} and not ({whole} = '0' and {zero_frac}) then '-' || {body} "
                    f"else {body} end"
                )
        elif fmt == "date":
            final = _date_sql(v, options)
        elif fmt == "timestamp":
            final = _timestamp_sql(v, options)
        elif fmt == "boolean":
            final = (
                f"case when regexp_full_match({v}, {_lit(trues)}) then 'true' "
                f"when regexp_full_match({v}, {_lit(falses)}) then 'false' end"
            )
        elif fmt == "json":
            final = f"case when json_valid({v}) then {v} end"
        else:
            final = v
        finals.append(f"{final} as {k}")
        if col.required:
            reasons.append(f"case when {v} is null then {_lit('missing_required:' + col.name)} end")
        if fmt in _TYPED_FORMATS and col.required:
            reasons.append(
                f"case when {v} is not null and {k} is null "
                f"then {_lit(f'bad_{fmt}:{col.name}')} end"
            )
        elif fmt in _TYPED_FORMATS:
            c = _Checked(col.name, f"bad_{fmt}", f"__unread{i}")
            issues.append(f"case when {k} is null then {v} end as {c.unread}")
            checked.append(c)

    first = [f"{_ROW}", *(_ident(n) for n in src.names), *trimmed]
    if src.reason_column:  # a preset's own reason comes first
        first.append(f"nullif({_ident(src.reason_column)}, '') as __preset_reason")
        reasons.insert(0, "__preset_reason")
    query = _Query(_BATCH, first)
    for level in (values, stripped, numbers, parts, finals, issues):
        query.add(level)
    reason = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "null"
    query.add([f"{reason} as __reason"])
    raw_row = "json_object(" + ", ".join(f"{_lit(n)}, {_ident(n)}" for n in src.names) + ")"
    outputs = ", ".join(f"__k{i} as {_ident(c.name)}" for i, c in enumerate(table.data_columns))
    flagged = "".join(f"{c.unread}, " for c in checked)
    sql = (
        f"select {_ROW} as row_number, "
        f"case when __reason is not null then {raw_row} end as raw_row, "
        f"{outputs}, {flagged}__reason as reason from ({query.sql})"
    )
    return sql, checked


# --------------------------------------------------------------------------- loading


def load_files(
    table: str,
    files: Sequence[str | Path] | str | Path,
    options: LoadOptions | None = None,
    *,
    warehouse: str | Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> LoadReport:
    """Load `files` into `raw.<table>`; returns per-file counts. Raises `LoadError`.

    Uses `con` if given (the load runs in its own transaction on it), else opens
    `warehouse` (default: $WAREHOUSE_PATH). Every hard error is checked before
    anything is written, and a failure while streaming rolls the whole load back.
    """
    options = options or LoadOptions()
    t = _resolve_table(table)
    if isinstance(files, str | Path):
        files = [files]
    if not files:
        raise LoadError("no files to load")
    defaults = _check_options(t, options)
    sources = [_open_source(Path(f), options) for f in files]
    parts = [_Part(t, _plan(t, s, options, defaults), options, defaults) for s in sources]
    return _load(parts, options, table=t.name, warehouse=warehouse, con=con)


# A preset (mailroom.presets) shapes a file into contract-shaped rows and loads them here.
ROW_COLUMN = _ROW  # the file's row number of a shaped row (int64)
REASON_COLUMN = "__mailroom_reason__"  # optional: the preset's own reason to reject the row


@dataclass
class Shaped:
    """Rows a preset shaped for one raw table out of one file.

    `data` has text columns named like the table's contract columns (any subset),
    ROW_COLUMN (the row number in `file` a shaped row comes from: rejections and
    value issues point at the file's own rows) and optionally REASON_COLUMN (a
    reason of the preset's own to reject the row, e.g. `no_customer:customer_id`;
    it comes first in the rejection's reason). `malformed` are the file's CSV
    lines with the wrong number of fields, rejected under this table.
    """

    table: str
    file: Path
    data: pa.Table
    malformed: list[tuple[str, int, int]] = field(default_factory=list)


def read_as_text(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, options: LoadOptions
) -> tuple[list[str], list[tuple[str, int, int]]]:
    """Read a CSV or Parquet file into a new table `name` of `con`, as the loader reads it
    (delimiter sniffed, --encoding, CSV streamed in blocks): every column text, trimmed,
    empty cells NULL, typed Parquet values as text, plus ROW_COLUMN (data rows from 1).

    Returns the column names (an empty or repeated header renamed as `load_files` does)
    and the malformed CSV lines (text, expected fields, actual fields). Raises `LoadError`.
    """
    src = _open_source(path, options)
    cols = "".join(f"{_ident(n)} varchar, " for n in src.names)
    con.execute(f"create table {_ident(name)} ({cols}{_ROW} bigint)")
    texts = ""
    for n, t in zip(src.names, src.types, strict=True):
        pre = _pre_text(n, t)[
            0
        ]  # trim() with a character list only when there is something to trim
        texts += (
            f"nullif(case when regexp_matches({pre}, {_lit(_EDGE_SPACE)}) "
            f"then trim({pre}, {_lit(_TRIM_CHARS)}) else {pre} end, ''), "
        )
    row = 0
    try:
        for batch in src.batches(options):
            n = batch.num_rows
            if not n:
                continue
            batch = batch.append_column(_ROW, pa.array(range(row + 1, row + n + 1), pa.int64()))
            con.register(_BATCH, pa.Table.from_batches([batch]))
            try:
                con.execute(f"insert into {_ident(name)} select {texts}{_ROW} from {_BATCH}")
            finally:
                con.unregister(_BATCH)
            row += n
    except (pa.ArrowException, OSError, UnicodeError, ValueError) as e:
        raise _read_error(path, e) from None
    return src.names, list(src.malformed)


def load_shaped(
    shaped: Sequence[Shaped],
    options: LoadOptions,
    *,
    preset: str,
    sources: Sequence[SourceReport] = (),
    loaded_at: dt.datetime | None = None,
    warehouse: str | Path | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> LoadReport:
    """Load a preset's shaped rows into their tables: one transaction, one `_loaded_at`.

    Values go through the same canonicalisation, rejections and value issues as
    `load_files` (`options` give the formats; `currency` and `defaults` apply to
    the tables that have the column). `loaded_at` (naive UTC) is the load's
    `_loaded_at` when the preset needed it beforehand.
    """
    if not shaped:
        raise LoadError("no files to load")
    if options.mapping:
        raise LoadError(f"--map and --mapping do not apply to a preset ({preset})")
    if options.replace:
        raise LoadError(
            f"--replace does not apply to a preset ({preset}): it fills several tables; "
            "empty one with mailroom load TABLE FILE --replace"
        )
    parts = []
    for s in shaped:
        t = _resolve_table(s.table)
        names = [n for n in s.data.column_names if n not in (_ROW, REASON_COLUMN)]
        unknown = sorted(set(names) - set(c.name for c in t.data_columns))
        if unknown or _ROW not in s.data.column_names:
            raise ValueError(f"shaped rows for {t.name} with bad columns: {unknown or [_ROW]}")
        opts = replace(
            options,
            currency=options.currency if "currency" in t.column_names else None,
            defaults={k: v for k, v in options.defaults.items() if k in t.column_names},
        )
        defaults = _check_options(t, opts)
        src = _Source(
            s.file,
            "shaped",
            names,
            [s.data.schema.field(n).type for n in names],
            {},
            malformed=list(s.malformed),
            data=s.data,
            reason_column=REASON_COLUMN if REASON_COLUMN in s.data.column_names else None,
        )
        parts.append(_Part(t, _plan(t, src, opts, defaults), opts, defaults))
    return _load(
        parts,
        options,
        table=parts[0].table.name,
        warehouse=warehouse,
        con=con,
        loaded_at=loaded_at,
        preset=preset,
        sources=sources,
    )


@dataclass
class _Part:
    """One file's plan for one table, with the options and defaults that apply to it."""

    table: Table
    plan: _Plan
    options: LoadOptions
    defaults: Mapping[str, str]


def _load(
    parts: Sequence[_Part],
    options: LoadOptions,
    *,
    table: str,
    warehouse: str | Path | None,
    con: duckdb.DuckDBPyConnection | None,
    loaded_at: dt.datetime | None = None,
    preset: str | None = None,
    sources: Sequence[SourceReport] = (),
) -> LoadReport:
    loaded_at = loaded_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    load_id = loaded_at.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    where = "(connection)" if con is not None else str(warehouse or warehouse_path())
    report = LoadReport(
        table=table,
        load_id=load_id,
        loaded_at=loaded_at,
        warehouse=where,
        replaced=options.replace,
        dry_run=options.dry_run,
        preset=preset,
        sources=list(sources),
    )
    try:
        opened = nullcontext(con) if con is not None else connect(Path(where))
        with opened as c, _session(c, options.timezone):
            c.execute("begin transaction")
            try:
                ensure_raw_schema(c)
                for name, columns in (
                    (REJECTIONS_TABLE, REJECTIONS_COLUMNS),
                    (VALUE_ISSUES_TABLE, VALUE_ISSUES_COLUMNS),
                ):
                    cols = ", ".join(f"{n} {ty}" for n, ty in columns)
                    c.execute(f"create table if not exists {RAW_SCHEMA}.{name} ({cols})")
                if options.replace:
                    for name in dict.fromkeys(p.table.name for p in parts):
                        c.execute(f"delete from {RAW_SCHEMA}.{_ident(name)}")
                for p in parts:
                    file = _load_file(c, p.table, p.plan, p.options, p.defaults, report)
                    file.table, file.shaped = p.table.name, p.plan.source.kind == "shaped"
                    report.files.append(file)
                c.execute("rollback" if options.dry_run else "commit")
            except BaseException:
                with suppress(duckdb.Error):
                    c.execute("rollback")
                raise
    except duckdb.Error as e:
        raise LoadError(f"warehouse error: {_one_line(e)}") from None
    except OSError as e:
        raise LoadError(f"cannot open the warehouse {where}: {_one_line(e)}") from None
    return report


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """First value of a query, fetching the whole (one-row) result."""
    return con.execute(sql, list(params)).fetchall()[0][0]


def set_timezone(con: duckdb.DuckDBPyConnection, tz: str) -> None:
    try:
        con.execute(f"set TimeZone = {_lit(tz)}")
    except duckdb.Error:
        raise LoadError(f"unknown timezone {tz!r} (use an IANA name like Europe/Berlin)") from None


@contextmanager
def _session(con: duckdb.DuckDBPyConnection, tz: str) -> Iterator[None]:
    """Read naive timestamps in `tz` and keep DuckDB's progress bar off stdout."""
    settings = ("TimeZone", "enable_progress_bar")
    before = {k: _scalar(con, f"select current_setting('{k}')") for k in settings}
    set_timezone(con, tz)
    con.execute("set enable_progress_bar = false")
    try:
        yield
    finally:
        con.execute(f"set TimeZone = {_lit(before['TimeZone'])}")
        con.execute(f"set enable_progress_bar = {str(before['enable_progress_bar']).lower()}")


def _load_file(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    plan: _Plan,
    options: LoadOptions,
    defaults: Mapping[str, str],
    load: LoadReport,
) -> FileReport:
    src = plan.source
    report = FileReport(
        file=src.path,
        columns={c: s for c, s in plan.columns.items() if s is not None},
        unmapped_columns=plan.unmapped,
        synthesized_key=plan.synthesized_key,
        renamed_columns=dict(src.renamed),
    )
    for col, value in defaults.items():
        if col not in report.columns:
            report.columns[col] = f"default {value!r}"
    if plan.synthesized_key:
        report.columns[plan.synthesized_key] = "synthesised"
    stage, checked = _stage_sql(table, plan, options, defaults)
    data_cols = ", ".join(_ident(c.name) for c in table.data_columns)
    target = f"{RAW_SCHEMA}.{_ident(table.name)}"
    rejections = f"{RAW_SCHEMA}.{REJECTIONS_TABLE}"
    value_issues = f"{RAW_SCHEMA}.{VALUE_ISSUES_TABLE}"
    meta = [load.load_id, load.loaded_at, table.name, src.path.name]
    key = _ident(table.primary_key)
    # one row per unreadable optional value of a loaded row, in row then column order
    issue_rows = " union all ".join(
        f"select row_number, {key} as record_id, {n} as column_order, "
        f"{_lit(c.column)} as column_name, {_lit(c.reason)} as reason, {c.unread} as raw_value "
        f"from {_STAGE} where reason is null and {c.unread} is not null"
        for n, c in enumerate(checked)
    )
    counts = ", ".join(["count(*)", *(f"count({c.unread})" for c in checked)])
    row = 0
    try:
        for batch in src.batches(options):
            n = batch.num_rows
            report.rows_read += n
            if n:
                if not src.numbered:
                    rows = pa.array(range(row + 1, row + n + 1), pa.int64())
                    batch = batch.append_column(_ROW, rows)
                con.register(_BATCH, pa.Table.from_batches([batch]))
                try:
                    con.execute(f"create or replace temp table {_STAGE} as {stage}")
                finally:
                    con.unregister(_BATCH)
                con.execute(
                    f"insert into {target} ({data_cols}, {LOADED_AT}) "
                    f"select {data_cols}, ? from {_STAGE} where reason is null",
                    [load.loaded_at],
                )
                con.execute(
                    f"insert into {rejections} select ?, ?, ?, ?, row_number, reason, raw_row "
                    f"from {_STAGE} where reason is not null order by row_number",
                    meta,
                )
                for reason, count in con.execute(
                    f"select reason, count(*) from {_STAGE} where reason is not null group by 1"
                ).fetchall():
                    report.rejections[reason] = report.rejections.get(reason, 0) + count
                loaded, *unread = con.execute(
                    f"select {counts} from {_STAGE} where reason is null"
                ).fetchall()[0]
                report.rows_loaded += loaded
                if any(unread):
                    con.execute(
                        f"insert into {value_issues} select ?, ?, ?, ?, row_number, record_id, "
                        f"column_name, reason, raw_value from ({issue_rows}) "
                        "order by row_number, column_order",
                        meta,
                    )
                    for c, count in zip(checked, unread, strict=True):
                        if count:
                            k = (c.column, c.reason)
                            report.value_issues[k] = report.value_issues.get(k, 0) + count
                row += n
            if src.malformed:
                con.executemany(
                    f"insert into {rejections} values (?, ?, ?, ?, null, ?, "
                    "json_object('line', ?, 'expected_fields', ?, 'actual_fields', ?))",
                    [[*meta, MALFORMED, *bad] for bad in src.malformed],
                )
                report.rows_read += len(src.malformed)
                report.rejections[MALFORMED] = report.rejections.get(MALFORMED, 0) + len(
                    src.malformed
                )
                src.malformed.clear()
    except (pa.ArrowException, OSError, UnicodeError, ValueError) as e:
        raise _read_error(src.path, e) from None
    finally:
        with suppress(duckdb.Error):  # the transaction may be aborted already
            con.execute(f"drop table if exists {_STAGE}")
    return report


def _read_error(path: Path, e: BaseException) -> LoadError:
    text = _one_line(e)
    if isinstance(e, UnicodeError) or "UTF8" in text or "decode" in text:
        text += " (wrong --encoding? try latin-1 or cp1252)"
    return LoadError(f"cannot read {path}: {text}")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _kind(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


# --------------------------------------------------------------------------- command


def load_command(
    table: Annotated[
        str | None,
        typer.Argument(
            metavar="TABLE",
            show_default=False,
            help="Contract table to load into, e.g. shop_orders or crm_contacts "
            "(optional when the --mapping YAML names it; leave it out for a preset).",
        ),
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="FILE",
            show_default=False,
            help="CSV (.csv .tsv .txt, optionally .gz) or Parquet files "
            "(optional when the --mapping YAML lists them).",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            "-p",
            metavar="NAME",
            help="Read the files as a platform's export and fill every table it has data "
            "for: shopify_orders, mailchimp_members, klaviyo_profiles, transaction_log. "
            "Without TABLE or --preset, the layout is recognised from the header.",
        ),
    ] = None,
    list_presets: Annotated[
        bool,
        typer.Option(
            "--list-presets", help="List the presets: what export each reads, what it fills."
        ),
    ] = False,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            "-m",
            metavar="CONTRACT_COL=FILE_COL",
            help="Take a contract column from a differently named file column; repeatable. "
            "CONTRACT_COL= (nothing after =) leaves the column NULL.",
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            metavar="YAML",
            help="Mapping file: table, files, columns, defaults and any of these options "
            "(command-line options win).",
        ),
    ] = None,
    date_format: Annotated[
        list[str] | None,
        typer.Option(
            "--date-format",
            metavar="PATTERN",
            help="How dates are written, e.g. %Y%m%d or %d/%m/%Y (or YYYYMMDD-style tokens); "
            "repeatable. Also tried for timestamps (midnight). ISO dates always work.",
        ),
    ] = None,
    timestamp_format: Annotated[
        list[str] | None,
        typer.Option(
            "--timestamp-format",
            metavar="PATTERN",
            help="How timestamps are written, e.g. '%d/%m/%Y %H:%M'; repeatable. "
            "ISO 8601 always works.",
        ),
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            "--tz",
            metavar="ZONE",
            help="IANA time zone of timestamps without an offset (default: UTC).",
        ),
    ] = None,
    decimal_comma: Annotated[
        bool | None,
        typer.Option(
            "--decimal-comma/--decimal-point",
            show_default=False,
            help="Amounts use a decimal comma: 12,50 and 1.234,50 (default: decimal point).",
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            "--delimiter",
            "-d",
            metavar="CHAR",
            help="CSV field delimiter: one character, or tab (default: sniffed from the header).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option("--encoding", metavar="NAME", help="CSV text encoding (default: utf-8)."),
    ] = None,
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency",
            metavar="CODE",
            help="Currency (e.g. EUR) for rows whose file has no currency column or leaves it "
            "empty.",
        ),
    ] = None,
    replace_: Annotated[
        bool | None,
        typer.Option(
            "--replace/--append",
            show_default=False,
            help="Empty the table before loading, or append to it (default: append).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read, validate and report, but write nothing.")
    ] = False,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            metavar="DATE",
            help="The last day of the history you load: later `mailroom build`s stand on it "
            "(kept in raw.world_metadata; `build --as-of` and mailroom.yml override it).",
        ),
    ] = None,
    warehouse: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH", help="DuckDB file (default: $WAREHOUSE_PATH or data/warehouse.duckdb)."
        ),
    ] = None,
) -> None:
    """Load your own CSV or Parquet files into the raw contract tables.

    Exports as platforms write them load in one command, with a preset that fills
    every table the export has data for (orders, order items, products, customers,
    subscribers, consent):

    mailroom load orders_export.csv --preset shopify_orders

    mailroom load subscribed.csv unsubscribed.csv cleaned.csv --preset mailchimp_members

    mailroom load profiles.csv    (no --preset: recognised from the header)

    See --list-presets. Any other file loads into one table (TABLE FILE):
    columns whose names match the contract (ignoring case, spaces and underscores)
    are taken as they are; map the others with --map or a --mapping YAML. Values are
    checked and canonicalised (dates YYYY-MM-DD, timestamps ISO 8601 UTC, plain
    decimals, true/false). A row whose required value is missing or does not parse is
    not loaded but kept in raw.load_rejections with its reason; any other value that
    does not parse is loaded as NULL, counted per column and kept in
    raw.load_value_issues. A missing primary key column is synthesised from the file
    name and row number. Typical header spellings are matched too (State, Province or
    County for region, Address 2 for address_line_2, Zip for postcode).

    Example, a transaction log with only customer_id, order_date, amount, quantity:

    mailroom load shop_orders tx.csv --map order_at=order_date --map total_amount=amount
    --map item_count=quantity --date-format %Y%m%d --currency EUR

    A mapping YAML can describe a whole load (table, files, columns, defaults,
    formats, options): mailroom load --mapping orders.yml. Its format is documented
    at the top of mailroom/loader.py.

    Exit code 0 when the load ran (even with rejected rows), 2 on a hard error
    (unknown table or column, missing or unreadable file, required column without a
    source, bad mapping file); then nothing is written.
    """
    if list_presets:
        from mailroom import presets

        for line in presets.preset_lines():
            typer.echo(line)
        return
    try:
        given = {
            "mapping": parse_map_options(map_ or []),
            "date_formats": tuple(date_format or ()) or None,
            "timestamp_formats": tuple(timestamp_format or ()) or None,
            "timezone": timezone,
            "decimal_comma": decimal_comma,
            "delimiter": delimiter,
            "encoding": encoding,
            "currency": currency,
            "replace": replace_,
            "dry_run": dry_run,
        }
        overrides = {k: v for k, v in given.items() if v is not None}
        paths = list(files or [])
        if preset is not None or (
            table is not None and mapping is None and _looks_like_file(table)
        ):
            report = _load_with_preset(preset, table, paths, map_, mapping, overrides, warehouse)
            for line in report.lines():
                typer.echo(line)
            _set_as_of(as_of, warehouse, dry_run)
            return
        if mapping is not None:
            spec = read_mapping_file(mapping)
            options = spec.options(**overrides)
            if table is None:
                table = spec.table
            elif spec.table and spec.table != table:
                raise LoadError(
                    f"table {table!r} on the command line but {spec.table!r} in {mapping}"
                )
            paths = paths or list(spec.files)
        else:
            options = LoadOptions(**overrides)
        if table is None:
            raise LoadError("missing TABLE (give it as the first argument or in --mapping)")
        if not paths:
            raise LoadError("missing FILE (give one or more files, or list them in --mapping)")
        report = load_files(table, paths, options, warehouse=warehouse)
    except LoadError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    for line in report.lines():
        typer.echo(line)
    _set_as_of(as_of, warehouse, dry_run)


def _set_as_of(as_of: dt.datetime | None, warehouse: Path | None, dry_run: bool) -> None:
    """Record the history's last day as the warehouse's as-of date (after a load)."""
    if as_of is None or dry_run:
        return
    from mailroom.warehouse import set_metadata

    with connect(warehouse) as con:
        set_metadata(con, {"as_of": as_of.date().isoformat()})
    typer.echo(f"as-of date {as_of.date().isoformat()}: `mailroom build` stands on it")


def _looks_like_file(arg: str) -> bool:
    from mailroom import presets

    return presets.looks_like_file(arg)


def _load_with_preset(
    preset: str | None,
    table: str | None,
    paths: list[Path],
    map_: list[str] | None,
    mapping: Path | None,
    overrides: Mapping[str, Any],
    warehouse: Path | None,
) -> LoadReport:
    """`mailroom load FILE... [--preset NAME]`: a preset named or recognised from the header."""
    from mailroom import presets

    if table is not None:
        if table in load_contract():
            raise LoadError(
                f"--preset takes files only (the preset decides the tables): drop {table!r}, "
                f"or load into {table} without --preset"
            )
        paths = [Path(table), *paths]
    if map_ or mapping is not None:
        raise LoadError("--map and --mapping do not apply to a preset")
    if not paths:
        raise LoadError("missing FILE (give the export files to load)")
    options = LoadOptions(**overrides)
    if preset is None:
        preset = presets.detect_files(paths, options)
        typer.echo(
            f"recognised {', '.join(p.name for p in paths)} as {presets.PRESETS[preset].reads}: "
            f"--preset {preset}"
        )
    return presets.load_preset(preset, paths, options, warehouse=warehouse)
