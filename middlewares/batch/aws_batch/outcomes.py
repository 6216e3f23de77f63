"""The handler's answer about a batch → Lambda's partial batch response.

The handler answers in one of two shapes (README.md, "The contract"):

* a JSON array aligned with `Records`: entry i is the outcome of record i — `null` or
  `true` (succeeded); a string, `false`, an error object (`errorMessage`/`errorType`)
  or a `Promise.allSettled` entry (`{"status": "fulfilled"|"rejected", …}`);
* Lambda's own `{"batchItemFailures": [{"itemIdentifier": …}]}`, checked against the batch.

`resolve` applies the stated rules (records not reported on, forced failures, FIFO) and
returns the failed records by index with a reason for each."""

from __future__ import annotations

import json
from typing import Any

from aws_events import type_name

from .config import BatchConfig
from .plan import BatchPlan

REASON_CHARS = 1000  # a reason is for a log line: keep it readable and bounded


class InvalidResponseError(ValueError):
    """The handler's answer breaks the contract; the message names the place."""


class Failure:
    """A failed record: its place in `Records`, its item identifier, and why."""

    __slots__ = ("index", "identifier", "reason")

    def __init__(self, index: int, identifier: str, reason: str) -> None:
        self.index = index
        self.identifier = identifier
        self.reason = reason


def _short(text: str) -> str:
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS] + "…"


def _error_reason(error: dict[str, Any]) -> str:
    kind, message = error.get("errorType"), error.get("errorMessage")
    parts = [str(p) for p in (kind, message) if p is not None]
    return ": ".join(parts) if parts else json.dumps(error)


def _reason_from(value: Any) -> str:
    if isinstance(value, str):
        return value or "failed"
    if isinstance(value, dict) and ("errorMessage" in value or "errorType" in value):
        return _error_reason(value)
    if value is None or value == {}:  # e.g. a JavaScript Error, which JSON turns into {}
        return "rejected"
    if isinstance(value, dict) and isinstance(value.get("message"), str):  # a JS Error as JSON
        return str(value["message"])
    return json.dumps(value, ensure_ascii=False, default=str)


def _where(plan: BatchPlan, index: int) -> str:
    return f"[{index}] (record {plan.ids[index]!r})"


_OUTCOME_SHAPES = ("null or true (succeeded), or a string, false, an error object with "
                   "errorMessage, or {\"status\": \"fulfilled\"|\"rejected\"} (failed)")


def _outcome(entry: Any, plan: BatchPlan, index: int) -> str | None:
    """None for a success, else the reason of the failure."""
    if entry is None or entry is True:
        return None
    if entry is False:
        return "failed"
    if isinstance(entry, str):
        return entry or "failed"
    if isinstance(entry, dict):
        status = entry.get("status")
        if status == "fulfilled":
            return None
        if status == "rejected":
            return _reason_from(entry.get("reason"))
        if status is not None:
            raise InvalidResponseError(
                f"outcome {_where(plan, index)} has status {status!r}; must be 'fulfilled' or 'rejected'")
        if "errorMessage" in entry or "errorType" in entry:
            return _error_reason(entry)
        raise InvalidResponseError(
            f"outcome {_where(plan, index)} is an object without errorMessage, errorType or status; "
            f"an outcome must be {_OUTCOME_SHAPES}")
    raise InvalidResponseError(
        f"outcome {_where(plan, index)} is {type_name(entry)}; an outcome must be {_OUTCOME_SHAPES}")


def _from_outcomes(answer: list[Any], plan: BatchPlan) -> tuple[dict[int, str], int]:
    """Failures by index from an aligned list, and how many records it reported on."""
    if len(answer) > len(plan.ids):
        raise InvalidResponseError(
            f"the handler answered {len(answer)} outcomes for a batch of {len(plan.ids)} records")
    failed: dict[int, str] = {}
    for index, entry in enumerate(answer):
        if index in plan.forced:
            continue  # did not decode: failed whatever the handler put there
        reason = _outcome(entry, plan, index)
        if reason is not None:
            failed[index] = _short(reason)
    return failed, len(answer)


def _from_item_failures(items: Any, plan: BatchPlan) -> dict[int, str]:
    """Failures by index from Lambda's own shape, every identifier checked against the batch."""
    if items is None:  # Lambda: a null list means complete success
        return {}
    if not isinstance(items, list):
        raise InvalidResponseError(f"batchItemFailures must be an array, got {type_name(items)}")
    positions: dict[str, list[int]] = {}
    for index, record_id in enumerate(plan.ids):
        positions.setdefault(record_id, []).append(index)
    failed: dict[int, str] = {}
    for n, item in enumerate(items):
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(identifier, str) or not identifier:
            if not isinstance(item, dict):
                got = type_name(item)
            else:
                got = "an empty itemIdentifier" if identifier == "" else f"itemIdentifier {type_name(identifier)}"
            raise InvalidResponseError(
                f"batchItemFailures[{n}] must be an object with a non-empty string itemIdentifier, got {got}")
        if identifier not in positions:
            raise InvalidResponseError(
                f"batchItemFailures[{n}].itemIdentifier {identifier!r} is not a record of this batch")
        for index in positions[identifier]:
            failed[index] = "reported in batchItemFailures"
    return failed


def parse_answer(payload: bytes, plan: BatchPlan) -> tuple[dict[int, str], int]:
    """Failures by index, and the number of records reported on (from the start)."""
    try:
        answer = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise InvalidResponseError(f"the handler's answer is not JSON: {exc}") from None
    if isinstance(answer, list):
        return _from_outcomes(answer, plan)
    if isinstance(answer, dict) and "batchItemFailures" in answer:
        return _from_item_failures(answer["batchItemFailures"], plan), len(plan.ids)
    raise InvalidResponseError(
        f"the handler answered {type_name(answer)}{' without batchItemFailures' if isinstance(answer, dict) else ''}; "
        "for a batch event it must answer an array with one outcome per record, "
        "or {\"batchItemFailures\": [...]}")


def resolve(payload: bytes, plan: BatchPlan, config: BatchConfig) -> list[Failure]:
    """The failed records in record order: the handler's, the unreported (per
    BATCH_UNREPORTED), the forced ones, and for a FIFO queue everything after a failure."""
    failed, reported = parse_answer(payload, plan)
    count = len(plan.ids)
    # FIFO: an unreported record is never assumed processed (ordering would break).
    if config.unreported == "fail" or plan.fifo:
        for index in range(reported, count):
            failed.setdefault(index, "not reported on by the handler")
    for index, reason in plan.forced.items():
        failed[index] = reason  # the handler could not have processed it
    if plan.fifo and failed:
        _apply_fifo(failed, plan, config)
    return [Failure(i, plan.ids[i], failed[i]) for i in sorted(failed)]


def _apply_fifo(failed: dict[int, str], plan: BatchPlan, config: BatchConfig) -> None:
    """Lambda's rule for FIFO queues: stop at the first failure and report it and every
    later record; with scope `group`, only the later records of the same message group."""
    first = min(failed)
    if config.fifo_scope == "group" and plan.groups is not None:
        failed_groups: dict[str, str] = {}
        for index in range(first, len(plan.ids)):
            group = plan.groups[index]
            if index in failed:
                failed_groups.setdefault(group, plan.ids[index])
            elif group in failed_groups:
                failed[index] = f"not processed: record {failed_groups[group]!r} of message group {group!r} failed before it"
        return
    for index in range(first + 1, len(plan.ids)):
        failed.setdefault(index, f"not processed: record {plan.ids[first]!r} failed before it in this FIFO batch")


def response(failures: list[Failure]) -> dict[str, Any]:
    """Lambda's partial batch response; each identifier once, in record order."""
    seen: set[str] = set()
    items: list[dict[str, str]] = []
    for failure in failures:
        if failure.identifier not in seen:
            seen.add(failure.identifier)
            items.append({"itemIdentifier": failure.identifier})
    return {"batchItemFailures": items}
