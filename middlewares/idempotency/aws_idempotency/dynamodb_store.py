"""The DynamoDB store: Powertools' item layout and conditional writes.

Item (attribute names configurable, defaults Powertools'): `id` (S, the partition key),
`status` (S), `expiration` (N, Unix seconds: make it the table's TTL attribute),
`in_progress_expiration` (N, Unix ms), `data` (S, the response; B when it is not UTF-8),
`content_type` (S, when the response has one), `validation` (S, the payload hash).
"""

from __future__ import annotations

import base64
from typing import Any

from .dynamodb_client import DynamoDBClient, DynamoDBError
from .records import EXPIRED, INPROGRESS, PersistenceError, Record

DEFAULT_ATTRIBUTES = {
    "key": "id", "status": "status", "expiry": "expiration",
    "in_progress_expiry": "in_progress_expiration", "data": "data", "validation": "validation",
    "content_type": "content_type", "owner": "in_progress_owner",
}
# Claim when there is no record, or it expired, or it is an in-progress claim whose
# invocation's deadline has passed (Powertools' PutItem condition, word for word).
CLAIM_CONDITION = ("attribute_not_exists(#id) OR #expiry < :now OR "
                   "(#status = :inprogress AND attribute_exists(#in_progress_expiry) "
                   "AND #in_progress_expiry < :now_in_millis)")


class DynamoDBStore:
    def __init__(self, client: DynamoDBClient, table: str, attributes: dict[str, str] | None = None) -> None:
        self.client = client
        self.table = table
        self.attr = {**DEFAULT_ATTRIBUTES, **(attributes or {})}
        self.name = f"DynamoDB table {table}"

    def _call(self, operation: str, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        try:
            return self.client.call(operation, {"TableName": self.table, **request}, timeout_s)
        except DynamoDBError as exc:
            if exc.code == "ConditionalCheckFailedException":
                raise
            raise PersistenceError(
                f"{self.name}: {operation} failed: {exc.code}: {exc.message}",
                {"table": self.table, "operation": operation, "awsErrorCode": exc.code},
            ) from None

    def get(self, key: str, timeout_s: float) -> Record | None:
        answer = self._call("GetItem", {"Key": {self.attr["key"]: {"S": key}}, "ConsistentRead": True},
                            timeout_s)
        item = answer.get("Item")
        return self._record(item) if item else None

    def claim(self, record: Record, now_ms: int, timeout_s: float) -> Record | None:
        """PutItem the in-progress record under the claim condition; None when it was
        written, else the record that holds the key."""
        names = {"#id": self.attr["key"], "#expiry": self.attr["expiry"], "#status": self.attr["status"],
                 "#in_progress_expiry": self.attr["in_progress_expiry"]}
        values = {":now": {"N": str(now_ms // 1000)}, ":now_in_millis": {"N": str(now_ms)},
                  ":inprogress": {"S": INPROGRESS}}
        try:
            self._call("PutItem", {
                "Item": self._item(record), "ConditionExpression": CLAIM_CONDITION,
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }, timeout_s)
            return None
        except DynamoDBError as exc:
            item = exc.body.get("Item")
        if item:
            return self._record(item)
        # An API without ReturnValuesOnConditionCheckFailure: read what holds the key.
        existing = self.get(record.key, timeout_s)
        # None: deleted between the two calls; an EXPIRED stand-in makes the caller claim again.
        return existing if existing is not None else Record(record.key, EXPIRED, 0)

    def complete(self, record: Record, timeout_s: float) -> None:
        names = {"#status": self.attr["status"], "#expiry": self.attr["expiry"], "#data": self.attr["data"]}
        values: dict[str, Any] = {":status": {"S": record.status}, ":expiry": {"N": str(record.expiry_s)},
                                  ":data": _data_value(record.response or b"")}
        sets = ["#status = :status", "#expiry = :expiry", "#data = :data"]
        if record.content_type:
            names["#content_type"] = self.attr["content_type"]
            values[":content_type"] = {"S": record.content_type}
            sets.append("#content_type = :content_type")
        if record.payload_hash is not None:
            names["#validation"] = self.attr["validation"]
            values[":validation"] = {"S": record.payload_hash}
            sets.append("#validation = :validation")
        self._call("UpdateItem", {
            "Key": {self.attr["key"]: {"S": record.key}}, "UpdateExpression": "SET " + ", ".join(sets),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
        }, timeout_s)

    def release(self, claim: Record, timeout_s: float) -> None:
        """DeleteItem our in-progress record; one that is no longer ours stays."""
        names = {"#status": self.attr["status"], "#in_progress_expiry": self.attr["in_progress_expiry"]}
        values: dict[str, Any] = {":inprogress": {"S": INPROGRESS}}
        if claim.in_progress_expiry_ms is None:
            condition = "#status = :inprogress AND attribute_not_exists(#in_progress_expiry)"
        else:
            condition = "#status = :inprogress AND #in_progress_expiry = :mine"
            values[":mine"] = {"N": str(claim.in_progress_expiry_ms)}
        if claim.owner is not None:  # and it is this invocation's, not a duplicate's with the same deadline
            condition += " AND #owner = :owner"
            names["#owner"] = self.attr["owner"]
            values[":owner"] = {"S": claim.owner}
        try:
            self._call("DeleteItem", {
                "Key": {self.attr["key"]: {"S": claim.key}}, "ConditionExpression": condition,
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
            }, timeout_s)
        except DynamoDBError:
            pass  # ConditionalCheckFailed: completed or reclaimed since; nothing of ours to delete

    def _item(self, record: Record) -> dict[str, Any]:
        item: dict[str, Any] = {
            self.attr["key"]: {"S": record.key}, self.attr["status"]: {"S": record.status},
            self.attr["expiry"]: {"N": str(record.expiry_s)},
        }
        if record.in_progress_expiry_ms is not None:
            item[self.attr["in_progress_expiry"]] = {"N": str(record.in_progress_expiry_ms)}
        if record.payload_hash is not None:
            item[self.attr["validation"]] = {"S": record.payload_hash}
        if record.owner is not None:
            item[self.attr["owner"]] = {"S": record.owner}
        return item

    def _record(self, item: dict[str, Any]) -> Record:
        try:
            key = item[self.attr["key"]]["S"]
            status = item[self.attr["status"]]["S"]
            expiry = int(item[self.attr["expiry"]]["N"])
            in_progress = item.get(self.attr["in_progress_expiry"])
            data = item.get(self.attr["data"])
            response = None
            if data is not None:
                response = data["S"].encode() if "S" in data else base64.b64decode(data["B"])
            content_type = item.get(self.attr["content_type"], {}).get("S")
            validation = item.get(self.attr["validation"], {}).get("S")
            owner = item.get(self.attr["owner"], {}).get("S")
            return Record(key, status, expiry, int(in_progress["N"]) if in_progress else None,
                          response, content_type, validation, owner)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PersistenceError(
                f"{self.name}: an item is not an idempotency record (attribute {exc} missing or of the wrong type)",
                {"table": self.table, "awsErrorCode": None},
            ) from None


def _data_value(response: bytes) -> dict[str, str]:
    try:
        return {"S": response.decode()}
    except UnicodeDecodeError:
        return {"B": base64.b64encode(response).decode()}
