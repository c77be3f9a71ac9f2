"""The server's view of the serving folder: the current snapshot, switched between requests.

`SnapshotStore.current()` is called at the start of every request: one
`os.stat` of CURRENT (inode, size and mtime; `os.replace` gives it a new
inode) tells whether a new snapshot was published; if so the new file is
opened and becomes current for the requests that start from then on. A
request keeps the `Snapshot` it started with until it ends, so nothing is
switched under it. The previous snapshots stay open in a small LRU
(`retained`), for audience cursors issued on them; pruning a file a server
still has open does not disturb it (POSIX keeps an unlinked file readable
through open handles, and snapshots are opened `immutable`). If the new
file cannot be opened the server keeps serving the one it has and logs why.

Handlers run on the event loop thread and each lookup is one indexed SQLite
read of a few microseconds, so connections are used by one thread at a time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, NamedTuple

from mailroom.serve.keys import EMAIL, ProfileKey
from mailroom.serve.snapshot import (
    CURRENT_NAME,
    SNAPSHOT_RE,
    SnapshotError,
    current_snapshot_path,
    open_snapshot_db,
    snapshot_file_name,
)

log = logging.getLogger("mailroom.serve")

PROFILE_BY_EMAIL_SQL = (
    "select profiles.document from email_keys "
    "inner join profiles on profiles.profile_id = email_keys.profile_id "
    "where email_keys.email_key = ?"
)
PROFILE_BY_ID_SQL = "select document from profiles where person_id = ?"
AUDIENCE_SQL = "select audience_name, sendable_count from audiences where audience_id = ?"
MEMBERS_SQL = (
    "select person_id, email, audience_rank, rank_score from audience_members "
    "where audience_id = ? and person_id > ? order by person_id limit ?"
)


class Audience(NamedTuple):
    audience_id: str
    audience_name: str | None
    sendable_count: int


class Snapshot:
    """One open snapshot file: point lookups and audience pages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = open_snapshot_db(path)
        self.meta: dict[str, Any] = {
            k: json.loads(v) for k, v in self.db.execute("select key, value from meta")
        }
        self.snapshot_id: str = self.meta["snapshot_id"]
        self.fallback_document: bytes = self.meta.pop("fallback_document")
        self.fallback_bytes = json.dumps(
            self.fallback_document, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    def profile(self, key: ProfileKey) -> bytes | None:
        """The stored document for the key, or None when the snapshot does not hold it."""
        if not key.is_valid:
            return None
        sql = PROFILE_BY_EMAIL_SQL if key.kind == EMAIL else PROFILE_BY_ID_SQL
        row = self.db.execute(sql, (key.value,)).fetchone()
        return row[0] if row else None

    def audience(self, audience_id: str) -> Audience | None:
        row = self.db.execute(AUDIENCE_SQL, (audience_id,)).fetchone()
        return Audience(audience_id, row[0], row[1]) if row else None

    def audience_members(self, audience_id: str, after_person_id: str, limit: int) -> list[tuple]:
        """Up to `limit` sendable members with person_id > after_person_id, in person_id order."""
        return self.db.execute(MEMBERS_SQL, (audience_id, after_person_id, limit)).fetchall()

    def info(self) -> dict[str, Any]:
        """Metadata for /health (the source warehouse as its file name only)."""
        meta = self.meta
        return {
            "snapshot_id": self.snapshot_id,
            "format_version": meta["format_version"],
            "built_at": meta["built_at"],
            "as_of_date": meta["as_of_date"],
            "source_warehouse": Path(meta["source_warehouse"]).name,
            "row_counts": meta["row_counts"],
            "missing_marts": meta["missing_marts"],
            "warnings": meta["warnings"],
        }

    def close(self) -> None:
        self.db.close()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class SnapshotStore:
    """The current snapshot of a serving folder, re-checked on every `current()` call."""

    def __init__(self, serving_dir: Path, retained: int = 3) -> None:
        self.serving_dir = Path(serving_dir)
        self.retained = retained
        self._lock = threading.Lock()
        self._pointer = self.serving_dir / CURRENT_NAME
        self._stamp = _stamp(self._pointer)
        self._current = Snapshot(current_snapshot_path(self.serving_dir))
        self._previous: OrderedDict[str, Snapshot] = OrderedDict()
        self.switches = 0

    def current(self) -> Snapshot:
        stamp = _stamp(self._pointer)
        if stamp != self._stamp and stamp is not None:
            with self._lock:
                if stamp != self._stamp:
                    self._switch(stamp)
        return self._current

    def _switch(self, stamp: tuple[int, int, int]) -> None:
        self._stamp = stamp
        try:
            path = current_snapshot_path(self.serving_dir)
            if path.name == self._current.path.name:
                return
            snapshot = self._previous.pop(_id_of(path.name), None) or Snapshot(path)
        except (SnapshotError, OSError) as exc:
            log.error(
                "new snapshot not opened, still serving %s: %s", self._current.snapshot_id, exc
            )
            return
        self._remember(self._current)
        self._current = snapshot
        self.switches += 1
        log.info("serving snapshot %s", snapshot.snapshot_id)

    def _remember(self, snapshot: Snapshot) -> None:
        self._previous[snapshot.snapshot_id] = snapshot
        while len(self._previous) > self.retained:
            _, evicted = self._previous.popitem(last=False)
            evicted.close()

    def by_id(self, snapshot_id: str) -> Snapshot | None:
        """The snapshot with this id, current or retained (opened if its file is still there)."""
        current = self.current()
        if snapshot_id == current.snapshot_id:
            return current
        with self._lock:
            if snapshot_id in self._previous:
                self._previous.move_to_end(snapshot_id)
                return self._previous[snapshot_id]
            name = snapshot_file_name(snapshot_id)
            path = self.serving_dir / name
            if not SNAPSHOT_RE.match(name) or not path.exists():
                return None
            try:
                snapshot = Snapshot(path)
            except SnapshotError:
                return None
            self._remember(snapshot)
            return snapshot

    def close(self) -> None:
        with self._lock:
            for snapshot in self._previous.values():
                snapshot.close()
            self._previous.clear()
            self._current.close()


def _id_of(file_name: str) -> str:
    match = SNAPSHOT_RE.match(file_name)
    return match.group(1) if match else file_name
