"""API keys for the profile API, from the environment only.

`MAILROOM_API_KEYS` holds one or more keys separated by `;` or newlines,
each `name:scopes:secret`:

    MAILROOM_API_KEYS="braze:profiles:6f1c...;esp_jobs:profiles,audiences:9b2e..."

- `name`: letters, digits, `_` or `-`; logged with each request instead of the secret.
- `scopes`: comma-separated, from `SCOPES` (`profiles`: `GET /v1/profiles/...`,
  `audiences`: `GET /v1/audiences/...`), or `*` for all.
- `secret`: at least `MIN_SECRET_LENGTH` characters (`python -c "import secrets;
  print(secrets.token_urlsafe(32))"` makes one); everything after the second
  colon, so it may itself contain colons.

A request carries its key as `Authorization: Bearer <secret>` or
`X-API-Key: <secret>` (Bearer wins when both are sent). Only SHA-256 digests
of the secrets are kept in memory; the presented key's digest is compared
with every configured digest by `hmac.compare_digest`, all of them each
time, so neither a key's length nor its position in the list shows in the
response time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ENV_VAR = "MAILROOM_API_KEYS"
SCOPES = ("profiles", "audiences")
MIN_SECRET_LENGTH = 24
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ApiKeyConfigError(ValueError):
    """MAILROOM_API_KEYS is missing or malformed; the message never contains a secret."""


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    digest: bytes  # sha256 of the secret

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def secret_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def parse_api_keys(text: str | None) -> list[ApiKey]:
    """Parse the MAILROOM_API_KEYS format; raise ApiKeyConfigError naming the entry, never its secret."""
    if text is None or not text.strip():
        raise ApiKeyConfigError(
            f"no API keys configured: set {ENV_VAR} to 'name:scopes:secret' entries separated "
            f"by ';' (scopes from {', '.join(SCOPES)} or '*'; secrets of at least "
            f"{MIN_SECRET_LENGTH} characters)"
        )
    keys: list[ApiKey] = []
    digests: set[bytes] = set()
    for position, entry in enumerate(re.split(r"[;\n]", text), start=1):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3:
            raise ApiKeyConfigError(f"{ENV_VAR} entry {position} is not 'name:scopes:secret'")
        name, scope_text, secret = (p.strip() for p in parts)
        if not NAME_RE.match(name):
            raise ApiKeyConfigError(
                f"{ENV_VAR} entry {position}: the name must be 1-64 letters, digits, '_' or '-'"
            )
        if any(k.name == name for k in keys):
            raise ApiKeyConfigError(f"{ENV_VAR}: key name {name!r} appears twice")
        scopes = {s.strip() for s in scope_text.split(",") if s.strip()}
        if scopes == {"*"}:
            scopes = set(SCOPES)
        unknown = scopes - set(SCOPES)
        if not scopes or unknown:
            raise ApiKeyConfigError(
                f"{ENV_VAR} key {name!r}: scopes must be a comma-separated subset of "
                f"{', '.join(SCOPES)} or '*' (got {', '.join(sorted(unknown)) or 'none'})"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ApiKeyConfigError(
                f"{ENV_VAR} key {name!r}: the secret must have at least {MIN_SECRET_LENGTH} characters"
            )
        digest = secret_digest(secret)
        if digest in digests:
            raise ApiKeyConfigError(f"{ENV_VAR} key {name!r}: the same secret is used twice")
        digests.add(digest)
        keys.append(ApiKey(name=name, scopes=frozenset(scopes), digest=digest))
    if not keys:
        raise ApiKeyConfigError(f"no API keys configured in {ENV_VAR}")
    return keys


def keys_from_env(environ: Mapping[str, str] | None = None) -> list[ApiKey]:
    return parse_api_keys((environ if environ is not None else os.environ).get(ENV_VAR))


def find_key(presented: str | None, keys: Sequence[ApiKey]) -> ApiKey | None:
    """The configured key whose secret is `presented`, comparing against every key in constant time."""
    if not presented:
        return None
    digest = secret_digest(presented)
    found: ApiKey | None = None
    for key in keys:
        # no early exit: every digest is compared, whichever matches
        if hmac.compare_digest(digest, key.digest):
            found = key
    return found


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The secret a request presents: `Authorization: Bearer <key>`, else `X-API-Key`."""
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None
