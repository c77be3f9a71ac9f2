"""File destination: one CSV or JSONL file per stream and run, with only the changed rows.

For ESPs that import files. Each file is `<output_dir>/<stream>-<run_id>.<csv|jsonl>`
with an `operation` column (create, update, delete: a removal from the
profiles or memberships stream and an erasure are both `delete`; erasures
are in their own `deletions` file), the key hash, then the mart's columns.
A removal row carries the address the removal lookup found and, for a
membership, its audience key; a removal whose address the lookup cannot find
is not written: it fails and is retried next run. CSV keeps the JSON-text
columns as JSON; JSONL writes them as arrays. Timestamps are ISO-8601 UTC.

The file is written to `<name>.tmp`, flushed to disk and renamed: an importer
never sees half a file. Its rows are acknowledged once the rename is done
(a run killed between the rename and the state commit writes them again in
the next run's file: at least once, never lost).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from mailroom.sync.base import Destination, Item, Outcome
from mailroom.sync.config import FileSettings
from mailroom.sync.source import MEMBERSHIPS

FILE_OPERATION = {"create": "create", "update": "update", "remove": "delete", "delete": "delete"}


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class FileDestination(Destination):
    name = "file"

    def __init__(self, settings: FileSettings, run_id: str) -> None:
        self.settings = settings
        self.run_id = run_id
        self.written: list[Path] = []

    def path_for(self, stream: str) -> Path:
        return Path(self.settings.output_dir) / f"{stream}-{self.run_id}.{self.settings.format}"

    def _row(self, stream: str, item: Item, columns: list[str]) -> dict[str, Any]:
        record = dict(item.record)
        if item.operation == "remove" and stream == MEMBERSHIPS:
            record.setdefault("audience_key", item.group_key)
        row = {"operation": FILE_OPERATION[item.operation], "key_hash": item.key_hash}
        row.update({c: record.get(c) for c in columns})
        return row

    def deliver(self, stream: str, items: Iterable[Item]) -> Iterator[list[Outcome]]:
        columns = [
            c
            for c in getattr(self, "columns", {}).get(stream, {})
            if c not in ("operation", "key_hash")
        ]
        path = self.path_for(stream)
        tmp = path.with_name(path.name + ".tmp")
        delivered: list[Item] = []
        unresolved: list[Outcome] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = self._writer(handle, columns)
                for item in items:
                    if item.operation == "remove" and not item.email:
                        unresolved.append(item.failed("address not found by the removal lookup"))
                        continue
                    writer(self._row(stream, item, columns))
                    delivered.append(item)
                handle.flush()
                os.fsync(handle.fileno())
            if delivered:
                os.replace(tmp, path)
            else:
                tmp.unlink()
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if delivered:
            self.written.append(path)
            yield [i.acknowledged() for i in delivered]
        if unresolved:
            yield unresolved

    def _writer(self, handle: TextIO, columns: list[str]):
        if self.settings.format == "csv":
            writer = csv.DictWriter(handle, fieldnames=["operation", "key_hash", *columns])
            writer.writeheader()
            return lambda row: writer.writerow({k: _csv_value(v) for k, v in row.items()})

        def write_json(row: dict[str, Any]) -> None:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")

        return write_json
