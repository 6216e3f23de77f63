"""The three hooks as plain functions of bytes and state, so tests need no process."""

from __future__ import annotations

import json
import sys
from typing import Any, NamedTuple

from aws_events import InvalidEventError

from . import store
from .config import BatchConfig
from .decode import decode_records
from .outcomes import Failure, InvalidResponseError, resolve, response
from .plan import batch_source, plan_for

LOGGED_FAILURES = 100  # per invocation; the rest are counted in one line
REPORTED_FAILURES = 20  # listed in a Batch.AllFailed error


class BatchError(Exception):
    """Fails the invocation with `error_type` (Batch.*) and extra keys `details`."""

    def __init__(self, message: str, error_type: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.details = details or {}


class BeforeResult(NamedTuple):
    payload: bytes | None  # None: pass the event on byte-identical
    state: Any  # None: not a batch event


def before(payload: bytes, config: BatchConfig) -> BeforeResult:
    try:
        event = json.loads(payload)
    except (ValueError, RecursionError):
        return BeforeResult(None, None)  # not JSON, so not a batch event: not ours to judge
    source = batch_source(event)
    if source is None:
        return BeforeResult(None, None)
    try:
        plan, records = plan_for(event, source, keep_groups=config.fifo_scope == "group")
    except InvalidEventError as exc:
        raise BatchError(str(exc), "Batch.InvalidEvent", {"field": exc.field}) from None
    plan.forced = decode_records(records, source, config.decode)
    new_payload = None
    if config.decode != "none" and source != "dynamodb":
        new_payload = _encode(event)
    return BeforeResult(new_payload, store.save(plan))


def _encode(event: Any) -> bytes:
    try:
        return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON "\ud800") in the event: keep it escaped
        return json.dumps(event, separators=(",", ":")).encode()


def after(payload: bytes, state: Any, config: BatchConfig) -> bytes | None:
    """The partial batch response, or None (byte-identical) when `before` saw no batch."""
    try:
        plan = store.load(state)
    except store.PlanLostError as exc:
        raise BatchError(f"{exc}; the whole batch fails so that Lambda retries it", "Batch.StateLost") from None
    except ValueError:
        return None  # a state this middleware did not write
    if plan is None:
        return None
    try:
        failures = resolve(payload, plan, config)
    except InvalidResponseError as exc:
        raise BatchError(f"{exc}; the whole batch fails so that Lambda retries it", "Batch.InvalidResponse") from None
    finally:
        store.discard(state)
    if config.log_failures:
        log_failures(failures, plan.source)
    if failures and len(failures) == len(plan.ids) and config.all_failed == "error":
        listed = [{"itemIdentifier": f.identifier, "reason": f.reason} for f in failures[:REPORTED_FAILURES]]
        raise BatchError(f"all {len(failures)} records of the {plan.source} batch failed; first: "
                         f"{failures[0].identifier!r}: {failures[0].reason}", "Batch.AllFailed",
                         {"failures": listed})
    return json.dumps(response(failures), separators=(",", ":")).encode()


def error(state: Any) -> None:
    """A failed invocation fails the whole batch (Lambda retries it): only clean up."""
    store.discard(state)


def log_failures(failures: list[Failure], source: str) -> None:
    """One JSON line per failed record on STDERR (the function's log), as Middy logs them."""
    for failure in failures[:LOGGED_FAILURES]:
        print(json.dumps({"level": "WARN", "message": "batch record failed", "source": source,
                          "index": failure.index, "itemIdentifier": failure.identifier,
                          "reason": failure.reason}, ensure_ascii=False), file=sys.stderr)
    if len(failures) > LOGGED_FAILURES:
        print(json.dumps({"level": "WARN", "message": f"{len(failures) - LOGGED_FAILURES} more batch records failed",
                          "source": source}), file=sys.stderr)
