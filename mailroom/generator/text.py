"""Vectorised text helpers: how source systems spell timestamps, e-mails, phones and names."""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86_400


def to_datetime(start: np.datetime64, days: np.ndarray) -> pa.Array:
    """Float days since `start` -> arrow timestamp[s] (UTC, naive)."""
    secs = np.round(np.asarray(days, dtype="float64") * SECONDS_PER_DAY).astype("int64")
    return pa.array(start + secs.astype("timedelta64[s]"))


def _cast_str(ts: pa.Array) -> pa.Array:
    """`2025-03-30 01:00:01` (arrow's cast is much faster than strftime)."""
    return pc.cast(ts.cast(pa.timestamp("s")), pa.string())


def iso_utc(ts: pa.Array) -> pa.Array:
    """`2025-03-30T01:00:01Z`: what event pipelines land."""
    return concat(pc.replace_substring(_cast_str(ts), " ", "T", max_replacements=1), "Z")


def naive_utc(ts: pa.Array) -> pa.Array:
    """`2025-03-30 01:00:01`: what CRM and shop exports land (UTC, no zone)."""
    return _cast_str(ts)


def _offset_label(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _local_np(ts_np: np.ndarray, tz_names: np.ndarray) -> np.ndarray:
    local_np = ts_np.copy()
    for tz in np.unique(tz_names):
        mask = tz_names == tz
        utc = pc.assume_timezone(pa.array(ts_np[mask]), "UTC").cast(pa.timestamp("s", tz=str(tz)))
        local_np[mask] = np.asarray(
            pc.local_timestamp(utc).to_numpy(zero_copy_only=False), dtype="datetime64[s]"
        )
    return local_np


def utc_offset_hours(start: np.datetime64, days: np.ndarray, tz_names: np.ndarray) -> np.ndarray:
    """UTC offset (hours, DST included) of each zone at each instant."""
    ts_np = np.asarray(
        to_datetime(start, days).to_numpy(zero_copy_only=False), dtype="datetime64[s]"
    )
    return (_local_np(ts_np, np.asarray(tz_names)) - ts_np).astype("int64") / 3600.0


def iso_local(ts: pa.Array, tz_names: np.ndarray) -> pa.Array:
    """Local wall-clock time with its UTC offset (`2025-03-30T02:00:01+01:00`), DST-correct."""
    ts_np = np.asarray(ts.to_numpy(zero_copy_only=False), dtype="datetime64[s]")
    tz_names = np.asarray(tz_names)
    local_np = ts_np.copy()
    for tz in np.unique(tz_names):
        mask = tz_names == tz
        utc = pc.assume_timezone(pa.array(ts_np[mask]), "UTC").cast(pa.timestamp("s", tz=str(tz)))
        local_np[mask] = np.asarray(
            pc.local_timestamp(utc).to_numpy(zero_copy_only=False), dtype="datetime64[s]"
        )
    offset = (local_np - ts_np).astype("int64") // 60
    uniq, inverse = np.unique(offset, return_inverse=True)
    labels = pa.array([_offset_label(int(m)) for m in uniq], type=pa.string()).take(
        pa.array(inverse)
    )
    local_str = pc.replace_substring(_cast_str(pa.array(local_np)), " ", "T", max_replacements=1)
    return concat(local_str, labels)


def concat(*parts: object) -> pa.Array:
    """Element-wise string concatenation of arrays and scalars."""
    return pc.binary_join_element_wise(
        *[p if isinstance(p, pa.Array | pa.ChunkedArray) else pa.scalar(str(p)) for p in parts], ""
    )


def prefixed_ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return concat(prefix, pc.cast(pa.array(np.asarray(numbers, dtype="int64")), pa.string()))


@functools.cache
def strip_accents(s: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))


def email_local(first: str, last: str, pattern: int, number: int) -> str:
    f = strip_accents(first).lower().replace(" ", "").replace("'", "")
    ln = strip_accents(last).lower().replace(" ", "").replace("'", "")
    if pattern == 0:
        return f"{f}.{ln}{number}"
    if pattern == 1:
        return f"{f}{ln[:1]}{number}"
    if pattern == 2:
        return f"{f[:1]}{ln}{number}"
    return f"{f}_{ln}{number}"


def messy_email(email: str, style: int) -> str:
    """How people type their address into forms: case, spaces."""
    if style == 1:
        return email.upper()
    if style == 2:
        return f"  {email} "
    if style == 3:
        local, _, domain = email.partition("@")
        return f"{local.capitalize()}@{domain.capitalize()}"
    return email


def gmail_variant(email: str, style: int, tag: str) -> str:
    """Same gmail mailbox, different spelling: dots or a plus-tag."""
    local, _, domain = email.partition("@")
    if style == 0 and "." in local:
        return local.replace(".", "") + "@" + domain
    if style == 0:
        return local[:2] + "." + local[2:] + "@" + domain
    return f"{local}+{tag}@{domain}"


def typo_email(email: str, u: float) -> str:
    """A one-keystroke typo in the local part (swap, drop or double a letter)."""
    local, _, domain = email.partition("@")
    if len(local) < 4:
        return local + "x@" + domain
    i = 1 + int(u * (len(local) - 2))
    kind = int(u * 1000) % 3
    if kind == 0:
        local = local[: i - 1] + local[i] + local[i - 1] + local[i + 1 :]
    elif kind == 1:
        local = local[:i] + local[i + 1 :]
    else:
        local = local[:i] + local[i] + local[i:]
    return local + "@" + domain


def invalid_email(email: str, style: int) -> str:
    """Addresses that cannot receive mail."""
    local, _, domain = email.partition("@")
    return (
        f"{local}@",
        f"{local} @{domain}",
        f"{local}@{domain.replace('.', '')}",
        f"{local}@@{domain}",
        f"{local}@{domain}..",
    )[style % 5]


def format_phone(cc: str, national: str, style: int) -> str:
    """One phone number, written the ways different systems and people write it."""
    n = national
    if cc == "1":
        return (
            f"+1{n}",
            f"({n[:3]}) {n[3:6]}-{n[6:]}",
            f"{n[:3]}.{n[3:6]}.{n[6:]}",
            f"1-{n[:3]}-{n[3:6]}-{n[6:]}",
            f"{n[:3]} {n[3:6]} {n[6:]}",
        )[style % 5]
    return (
        f"+{cc}{n}",
        f"0{n[:4]} {n[4:]}",
        f"+{cc} {n[:4]} {n[4:]}",
        f"00{cc} {n[:3]} {n[3:6]} {n[6:]}",
        f"(0){n[:4]}-{n[4:7]}-{n[7:]}",
    )[style % 5]


def messy_name(name: str, style: int) -> str:
    if style == 1:
        return name.upper()
    if style == 2:
        return name.lower()
    if style == 3:
        return f" {name}  "
    if style == 4:
        return strip_accents(name)
    return name
