"""Profile keys: what `GET /v1/profiles/{key}` accepts, parsed without touching any data.

A key holding an ``@`` is an e-mail address; anything else is a `person_id`.
E-mails are normalized by `mailroom.standardize.normalize_email`, the
warehouse's `normalize_email` macro (`nullif(lower(trim(email)), '')`) as
DuckDB computes it; the snapshot's e-mail index is built with the macro's own
SQL, so a key and the index agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mailroom.standardize import normalize_email

EMAIL = "email"
PERSON_ID = "person_id"
KeyKind = Literal["email", "person_id", "invalid"]

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Longer keys are not looked up (an e-mail address has at most 254 characters).
MAX_KEY_LENGTH = 320


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
