"""What the engine hands a destination, and what a destination must do with it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from mailroom.sync.state import ACKNOWLEDGED, FAILED, INVALID, Outcome

UPSERT_OPERATIONS = ("create", "update")


class FatalDestinationError(RuntimeError):
    """The destination refuses us altogether (bad key, no permission, wrong list): stop the run."""


@dataclass
class Item:
    """One operation on one key. `record` is the canonical mart row (upserts, erasures) or,
    for a removal, only the address found by the removal lookup (if any)."""

    stream: str
    operation: str  # create, update, remove, delete
    key_hash: str
    subject_hash: str
    payload_hash: str | None
    record: dict[str, Any]
    esp_id: str | None = None
    group_key: str | None = None
    wire: str | None = None  # a destination's serialized payload, kept between batching and sending

    @property
    def email(self) -> str | None:
        return self.record.get("email")

    def outcome(
        self,
        status: str,
        http_status: int | None = None,
        error: str | None = None,
        esp_id: str | None = None,
    ) -> Outcome:
        return Outcome(
            key_hash=self.key_hash,
            subject_hash=self.subject_hash,
            operation=self.operation,
            status=status,
            payload_hash=self.payload_hash,
            http_status=http_status,
            error=error,
            esp_id=esp_id or self.esp_id,
            group_key=self.group_key,
        )

    def acknowledged(self, http_status: int | None = None, esp_id: str | None = None) -> Outcome:
        return self.outcome(ACKNOWLEDGED, http_status, esp_id=esp_id)

    def failed(self, error: str, http_status: int | None = None) -> Outcome:
        return self.outcome(FAILED, http_status, error)

    def invalid(self, error: str, http_status: int | None = None) -> Outcome:
        """The record's fault: not retried until it changes. An erasure is never invalid
        (it is legally required): it fails, and is sent again next run."""
        if self.operation == "delete":
            return self.failed(error, http_status)
        return self.outcome(INVALID, http_status, error)


class Destination:
    """A place the sync delivers to. `deliver` yields one list of outcomes per batch the
    destination acknowledged (or gave up on); the engine commits each list to state
    before asking for the next, so a run killed between batches loses nothing."""

    name = "destination"
    sends_memberships = True
    memberships_need_profile = False  # a membership is only sent once its profile is there
    removal_needs_address = True  # a removal must find the address through the lookup
    notes: tuple[str, ...] = ()

    def set_columns(self, stream: str, columns: dict[str, str]) -> None:
        """The stream's mart columns and their DuckDB types, before any `deliver`."""
        self.columns = getattr(self, "columns", {})
        self.columns[stream] = columns

    def deliver(self, stream: str, items: Iterable[Item]) -> Iterator[list[Outcome]]:
        raise NotImplementedError

    @property
    def http_requests(self) -> int:
        return 0

    @property
    def http_retries(self) -> int:
        """Requests that were a retry of an earlier attempt (429, 5xx, timeout, lost connection)."""
        return 0

    @property
    def http_timeouts(self) -> int:
        """Requests that got no answer in time (applied or not: the destination cannot tell)."""
        return 0

    def close(self) -> None:
        """Release connections and threads (nothing by default)."""


def chunked(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


__all__ = [
    "ACKNOWLEDGED",
    "FAILED",
    "INVALID",
    "UPSERT_OPERATIONS",
    "Destination",
    "FatalDestinationError",
    "Item",
    "Outcome",
    "chunked",
]
