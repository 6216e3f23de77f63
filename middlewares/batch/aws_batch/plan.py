"""A batch event's plan: its source, each record's item identifier in order, and whether
it comes from a FIFO queue. It is all the `after` hook needs to turn the handler's
per-record outcomes into `batchItemFailures`, and it is small enough to travel as state."""

from __future__ import annotations

from typing import Any, Literal

from aws_events import InvalidEventError, Node, detect, record_source

Source = Literal["sqs", "kinesis", "dynamodb"]
BATCH_SOURCES: dict[str, str] = {"sqs": "aws:sqs", "kinesis": "aws:kinesis", "dynamodb": "aws:dynamodb"}
PLAN_VERSION = 1


class BatchPlan:
    __slots__ = ("source", "ids", "fifo", "groups", "forced")

    def __init__(self, source: Source, ids: list[str], fifo: bool = False, groups: list[str] | None = None,
                 forced: dict[int, str] | None = None) -> None:
        self.source = source
        self.ids = ids
        self.fifo = fifo
        # MessageGroupId per record; only kept for a FIFO batch when the scope is `group`.
        self.groups = groups
        # Records failed before the handler saw them (a payload that did not decode): index → reason.
        self.forced = forced or {}

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"v": PLAN_VERSION, "source": self.source, "ids": self.ids}
        if self.fifo:
            doc["fifo"] = True
        if self.groups is not None:
            doc["groups"] = self.groups
        if self.forced:
            doc["forced"] = {str(i): reason for i, reason in self.forced.items()}
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> BatchPlan:
        """The plan `to_json` wrote; ValueError if it is not one (state from elsewhere)."""
        if not isinstance(doc, dict) or doc.get("v") != PLAN_VERSION or doc.get("source") not in BATCH_SOURCES:
            raise ValueError("not a batch plan")
        ids, groups, forced = doc.get("ids"), doc.get("groups"), doc.get("forced", {})
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ValueError("batch plan has no identifier list")
        if groups is not None and (not isinstance(groups, list) or len(groups) != len(ids)):
            raise ValueError("batch plan has a bad group list")
        if not isinstance(forced, dict):
            raise ValueError("batch plan has a bad forced-failure map")
        return cls(doc["source"], ids, bool(doc.get("fifo")), groups,
                   {int(i): str(reason) for i, reason in forced.items()})


def batch_source(event: Any) -> Source | None:
    """'sqs', 'kinesis' or 'dynamodb' for a batch event of that source, else None."""
    kind = detect(event)
    return kind if kind in BATCH_SOURCES else None  # type: ignore[return-value]


def _identifier(record: Node, source: Source) -> str:
    """The record's item identifier, as Lambda expects it back in `itemIdentifier`."""
    if source == "sqs":
        return record.text("messageId")
    if source == "kinesis":
        return record.obj("kinesis").text("sequenceNumber")
    return record.obj("dynamodb").text("SequenceNumber")


def _is_fifo(record: Node) -> bool:
    arn = record.raw("eventSourceARN")
    attributes = record.raw("attributes")
    return (isinstance(arn, str) and arn.endswith(".fifo")) or (
        isinstance(attributes, dict) and "MessageGroupId" in attributes)


def plan_for(event: Any, source: Source, keep_groups: bool) -> tuple[BatchPlan, list[Node]]:
    """The plan of a batch event `detect` recognised as `source`, and its records.

    Raises InvalidEventError naming the record and field when a record lacks its
    identifier or comes from another source: its failure could not be reported."""
    root = Node.root(event, source)
    records = root.items("Records")
    expected = BATCH_SOURCES[source]
    ids: list[str] = []
    for record in records:
        if record_source(record.value) != expected:
            raise record.fail("eventSource", f"must be {expected!r} like the first record's, "
                                             f"got {record_source(record.value)!r}")
        ids.append(_identifier(record, source))
    fifo = source == "sqs" and _is_fifo(records[0])
    groups: list[str] | None = None
    if fifo and keep_groups:
        groups = [record.obj("attributes").text("MessageGroupId") for record in records]
    return BatchPlan(source, ids, fifo, groups), records


__all__ = ["BATCH_SOURCES", "BatchPlan", "InvalidEventError", "Source", "batch_source", "plan_for"]
