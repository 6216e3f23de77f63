"""The idempotency logic of the three hooks, over any store (file or DynamoDB).

begin (before): claim the key with an in-progress record that expires at the invocation's
deadline. A live COMPLETED record answers with its stored response; a live INPROGRESS one
fails with AlreadyInProgress; an expired one is reclaimed. finish (after): store the
response as COMPLETED. abandon (error): delete the claim so a retry runs the handler.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol

from event_path import KeyPath, KeyPathError
from .records import COMPLETED, EXPIRED, INPROGRESS, IdempotencyError, Record, canonical_hash, is_same_claim

CLAIM_ATTEMPTS = 2  # a record that expires or vanishes between two reads: look once more


class AlreadyInProgress(IdempotencyError):
    error_type = "Idempotency.AlreadyInProgress"


class PayloadMismatch(IdempotencyError):
    error_type = "Idempotency.ValidationError"


class MissingKey(IdempotencyError):
    error_type = "Idempotency.KeyError"


class InconsistentState(IdempotencyError):
    error_type = "Idempotency.InconsistentState"


class Store(Protocol):
    name: str

    def claim(self, record: Record, now_ms: int, timeout_s: float) -> Record | None: ...
    def complete(self, record: Record, timeout_s: float) -> None: ...
    def release(self, claim: Record, timeout_s: float) -> None: ...


class Replay:
    """The stored response of a completed invocation with the same key."""

    __slots__ = ("response", "content_type")

    def __init__(self, response: bytes, content_type: str | None) -> None:
        self.response = response
        self.content_type = content_type


def is_missing(value: Any) -> bool:
    """Powertools' rule: null, empty, or a list/object of nulls gives no key."""
    if isinstance(value, bool | int | float):
        return False
    if isinstance(value, list):
        return all(item is None for item in value)
    if isinstance(value, dict):
        return all(item is None for item in value.values())
    return not value


class Guard:
    def __init__(self, store: Store, *, key_path: KeyPath | None, validation_path: KeyPath | None,
                 expires_after_s: int, raise_on_no_key: bool, max_response_bytes: int) -> None:
        self.store = store
        self.key_path = key_path
        self.validation_path = validation_path
        self.expires_after_s = expires_after_s
        self.raise_on_no_key = raise_on_no_key
        self.max_response_bytes = max_response_bytes

    def _select(self, path: KeyPath | None, event: Any, what: str) -> Any:
        if path is None:
            return event
        if event is _NOT_JSON:
            raise MissingKey(f"the event is not JSON, so {what} {path.text!r} cannot be applied")
        try:
            return path.search(event)
        except KeyPathError as exc:
            raise MissingKey(f"{what}: {exc}") from None

    def begin(self, payload: bytes, *, prefix: str, now_ms: int, remaining_ms: int | None,
              timeout_s: float, owner: str | None = None) -> dict[str, Any] | Replay | None:
        """The claim's state to keep for finish/abandon, a Replay to answer with, or None
        when the event has no key (and that is allowed): then nothing is stored."""
        try:
            event: Any = json.loads(payload)
        except (ValueError, RecursionError):
            event = _NOT_JSON
        selected = self._select(self.key_path, event, "the event key expression")
        if selected is _NOT_JSON:
            digest = canonical_hash(payload.decode("utf-8", "surrogateescape"))
        elif is_missing(selected):
            where = self.key_path.text if self.key_path else "the event"
            shown = json.dumps(selected)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            if self.raise_on_no_key:
                raise MissingKey(f"no idempotency key: {where} is {shown} in this event")
            print(f"idempotency: no key ({where} is {shown}); the handler runs without idempotency",
                  file=sys.stderr)
            return None
        else:
            digest = canonical_hash(selected)
        payload_hash = None
        if self.validation_path is not None:
            checked = self._select(self.validation_path, event, "the payload validation expression")
            payload_hash = canonical_hash(checked)

        deadline_ms = None if remaining_ms is None else now_ms + remaining_ms
        # The claim lives until the deadline even when records expire sooner: a record's
        # `expiration` ends an INPROGRESS claim too, and a duplicate must not run meanwhile.
        expiry_s = now_ms // 1000 + self.expires_after_s
        if deadline_ms is not None:
            expiry_s = max(expiry_s, -(-deadline_ms // 1000))
        claim = Record(f"{prefix}#{digest}", INPROGRESS, expiry_s, deadline_ms, payload_hash=payload_hash, owner=owner)
        mine = {"key": claim.key, "inProgressExpiry": claim.in_progress_expiry_ms, "payloadHash": payload_hash,
                "owner": owner}
        for _ in range(CLAIM_ATTEMPTS):
            holder = self.store.claim(claim, now_ms, timeout_s)
            if holder is None:
                return mine
            if is_same_claim(holder, claim) and holder.payload_hash == payload_hash:
                # Our own write: its answer was lost and the retried conditional write found it.
                return mine
            status = holder.effective_status(now_ms)
            if status == EXPIRED:
                continue  # expired or deleted between the write and the read: claim again
            if payload_hash is not None and holder.payload_hash != payload_hash:
                raise PayloadMismatch(
                    f"the payload differs from the one stored for this idempotency key "
                    f"({self.validation_path.text if self.validation_path else ''} changed)",
                    {"idempotencyKey": claim.key})
            if status == COMPLETED:
                return Replay(holder.response or b"", holder.content_type)
            if status == INPROGRESS:
                raise AlreadyInProgress(
                    "an invocation with the same idempotency key is in progress "
                    "(until it ends, or at the latest its deadline)", {"idempotencyKey": claim.key})
            raise InconsistentState(f"{self.store.name}: the record for {claim.key} has the unknown "
                                    f"status {holder.status!r}", {"idempotencyKey": claim.key})
        raise InconsistentState(f"{self.store.name}: the record for {claim.key} changed during the claim",
                                {"idempotencyKey": claim.key})

    def finish(self, state: dict[str, Any], response: bytes, content_type: str | None, *,
               now_ms: int, timeout_s: float) -> None:
        claim = _claim_of(state)
        if len(response) > self.max_response_bytes:
            # It cannot be stored: free the key rather than leave it locked, and say so.
            print(f"idempotency: the response ({len(response)} bytes) is over {self.max_response_bytes} "
                  f"bytes and is not stored; a retry will run the handler again", file=sys.stderr)
            self.store.release(claim, timeout_s)
            return
        done = Record(claim.key, COMPLETED, now_ms // 1000 + self.expires_after_s,
                      claim.in_progress_expiry_ms, response, content_type or None, claim.payload_hash)
        self.store.complete(done, timeout_s)

    def abandon(self, state: dict[str, Any], timeout_s: float) -> None:
        self.store.release(_claim_of(state), timeout_s)


def _claim_of(state: dict[str, Any]) -> Record:
    return Record(state["key"], INPROGRESS, 0, state.get("inProgressExpiry"),
                  payload_hash=state.get("payloadHash"), owner=state.get("owner"))


class _NotJson:
    def __repr__(self) -> str:
        return "<not JSON>"


_NOT_JSON: Any = _NotJson()
