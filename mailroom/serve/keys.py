"""Profile keys: what `GET /v1/profiles/{key}` accepts, parsed without touching any data.

A key holding an ``@`` is an e-mail address; anything else is a `person_id`.
E-mails are normalized exactly as the warehouse's `normalize_email` macro
(`nullif(lower(trim(email)), '')`): SQL `trim` removes spaces only (not tabs
or newlines), and SQL `lower` maps each character on its own (Unicode simple
case mapping), where Python's `str.lower` uses the full mapping: it turns
U+0130 (dotted capital I) into two characters and a final capital sigma into
'ς'. `normalize_email` lowers character by character with U+0130 mapped to
'i', which matches DuckDB on every code point. The snapshot's e-mail index is
built with the macro's SQL and looked up with `normalize_email`, so both
sides agree (a test compares them against DuckDB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

EMAIL = "email"
PERSON_ID = "person_id"
KeyKind = Literal["email", "person_id", "invalid"]

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Longer keys are not looked up (an e-mail address has at most 254 characters).
MAX_KEY_LENGTH = 320


def sql_lower(text: str) -> str:
    """SQL `lower`: each character's own lower case (no final-sigma rule, U+0130 to 'i')."""
    if text.isascii():
        return text.lower()
    return "".join(ch.lower() for ch in text.replace("\u0130", "i"))


def normalize_email(email: str) -> str | None:
    """The `normalize_email` macro: trimmed (spaces only, like SQL `trim`), lower-cased, '' to None."""
    value = sql_lower(email.strip(" "))
    return value or None


@dataclass(frozen=True)
class ProfileKey:
    kind: KeyKind
    value: str | None

    @property
    def is_valid(self) -> bool:
        return self.kind != "invalid"


def parse_profile_key(raw: str) -> ProfileKey:
    """An e-mail (normalized) when the key holds '@', otherwise a person_id (spaces trimmed).

    Empty, over-long or control-character keys are `invalid`: they are never
    looked up and get the unknown-profile answer like any key not found.
    """
    if len(raw) > MAX_KEY_LENGTH or CONTROL_RE.search(raw):
        return ProfileKey("invalid", None)
    if "@" in raw:
        email = normalize_email(raw)
        return ProfileKey(EMAIL, email) if email else ProfileKey("invalid", None)
    person_id = raw.strip(" ")
    return ProfileKey(PERSON_ID, person_id) if person_id else ProfileKey("invalid", None)
