"""Idempotency records, their states and expiry, and the errors every store raises.

The record is Powertools' (`IdempotencyRecord`): a key, a status, an expiry in Unix
seconds, an in-progress expiry in Unix milliseconds (the invocation's deadline, so a claim
whose invocation died is reclaimed once that invocation cannot be running any more), the
stored response, and the hash of the validated part of the payload.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

INPROGRESS: Final = "INPROGRESS"
COMPLETED: Final = "COMPLETED"
EXPIRED: Final = "EXPIRED"  # never stored: what a record past its expiry counts as


class IdempotencyError(Exception):
    """A failure the middleware reports as its own error type (`Idempotency.<kind>`)."""

    error_type = "Idempotency.Error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class PersistenceError(IdempotencyError):
    """The store could not be read or written (names the store and the AWS error code)."""

    error_type = "Idempotency.PersistenceError"


class Record:
    """One idempotency record as the stores read and write it."""

    __slots__ = ("key", "status", "expiry_s", "in_progress_expiry_ms", "response",
                 "content_type", "payload_hash", "owner")

    def __init__(self, key: str, status: str, expiry_s: int, in_progress_expiry_ms: int | None = None,
                 response: bytes | None = None, content_type: str | None = None,
                 payload_hash: str | None = None, owner: str | None = None) -> None:
        self.key = key
        self.status = status
        self.expiry_s = expiry_s
        self.in_progress_expiry_ms = in_progress_expiry_ms
        self.response = response
        self.content_type = content_type
        self.payload_hash = payload_hash
        self.owner = owner  # an in-progress claim's invocation (its request id)

    def effective_status(self, now_ms: int) -> str:
        """COMPLETED or INPROGRESS, or EXPIRED once either expiry has passed (the
        comparisons of the DynamoDB condition: `expiration < now` in whole seconds,
        `in_progress_expiration < now` in milliseconds)."""
        if self.expiry_s < now_ms // 1000:
            return EXPIRED
        if (self.status == INPROGRESS and self.in_progress_expiry_ms is not None
                and self.in_progress_expiry_ms < now_ms):
            return EXPIRED
        return self.status

    def __repr__(self) -> str:
        return (f"Record({self.key!r}, {self.status}, expiry_s={self.expiry_s}, "
                f"in_progress_expiry_ms={self.in_progress_expiry_ms})")


def claimable(existing: Record | None, now_ms: int) -> bool:
    """The claim condition, the same in both stores (Powertools' PutItem condition):
    no record, or one past its expiry, or an in-progress one past its in-progress expiry."""
    return existing is None or existing.effective_status(now_ms) == EXPIRED


def is_same_claim(existing: Record, claim: Record) -> bool:
    """Still the in-progress record this invocation wrote: its request id (two duplicates
    can share a deadline to the millisecond) and its deadline."""
    return (existing.status == INPROGRESS and existing.owner == claim.owner
            and existing.in_progress_expiry_ms == claim.in_progress_expiry_ms)


def canonical_hash(value: Any) -> str:
    """sha256 of the value as canonical JSON (sorted keys, compact): equal JSON, equal hash."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
