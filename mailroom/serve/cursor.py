"""Opaque keyset cursors for audience pages.

A cursor names the snapshot it was issued on, the audience and the last
person_id of the page (members are ordered by person_id): the next page is
`person_id > last` on the same snapshot, so a walk sees every member exactly
once even when a new snapshot is published halfway (the server keeps
answering from the cursor's snapshot while it is retained). It is URL-safe
base64 of compact JSON, not signed: a forged cursor can only start a page at
another member of an audience the caller may read anyway. Anything that
does not decode to that shape is a `CursorError` (HTTP 400).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

CURSOR_VERSION = 1
MAX_CURSOR_LENGTH = 512


class CursorError(ValueError):
    """The cursor is not one this API issued."""


@dataclass(frozen=True)
class AudienceCursor:
    snapshot_id: str
    audience_id: str
    after_person_id: str


def encode_cursor(cursor: AudienceCursor) -> str:
    payload = {
        "v": CURSOR_VERSION,
        "s": cursor.snapshot_id,
        "a": cursor.audience_id,
        "p": cursor.after_person_id,
    }
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(text: str) -> AudienceCursor:
    if not text or len(text) > MAX_CURSOR_LENGTH:
        raise CursorError("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorError("cursor is not valid") from None
    if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
        raise CursorError("cursor is not valid")
    fields = [payload.get(k) for k in ("s", "a", "p")]
    if not all(isinstance(f, str) and f for f in fields):
        raise CursorError("cursor is not valid")
    return AudienceCursor(*fields)
