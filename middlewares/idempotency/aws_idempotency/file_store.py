"""A local file store: one JSON file per record, for local runs and tests.

Each record is `<dir>/<sha256 of the key>.json`. A claim takes an exclusive `fcntl.flock`
on `<name>.lock` for its read-decide-write, so two processes on one machine cannot both
claim a key; every write goes to a temporary file that `os.replace` then puts in place, so
a reader sees the old record or the new one, never half of one. It does not work across
machines (use DynamoDB there), nor on file systems without `flock` (some NFS mounts).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .records import INPROGRESS, PersistenceError, Record, claimable, is_same_claim  # noqa: F401

# A Lambda response is at most 6 MB (more as base64 in the file): a bigger file is not ours.
MAX_RECORD_BYTES = 10 * 1024 * 1024


class FileStore:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.name = f"file store {directory}"

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, hashlib.sha256(key.encode()).hexdigest() + ".json")

    @contextmanager
    def _locked(self, key: str) -> Iterator[str]:
        path = self._path(key)
        try:
            fd = os.open(path[:-len(".json")] + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise self._error("lock", exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            os.close(fd)  # closing releases the lock

    def _error(self, action: str, exc: OSError | ValueError) -> PersistenceError:
        return PersistenceError(f"{self.name}: could not {action} a record: {exc}",
                                {"store": "file", "directory": self.directory})

    def _read(self, path: str) -> Record | None:
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_RECORD_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error("read", exc) from None
        if len(data) > MAX_RECORD_BYTES:
            raise self._error("read", ValueError(f"{path} is over {MAX_RECORD_BYTES} bytes"))
        try:
            return _from_json(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise self._error("read", ValueError(f"{path} is not a record ({exc!r})")) from None

    def _write(self, path: str, record: Record) -> None:
        # A new file of our own (O_EXCL), then renamed over the record in one step.
        temporary = os.path.join(self.directory, f".tmp-{os.getpid()}-{os.urandom(6).hex()}.json")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    # UTF-8 as it is: \u escapes would make a 4 MB emoji response a 12 MB file,
                    # past what a read accepts, and lock the key out until it expires.
                    data = json.dumps(_to_json(record), separators=(",", ":"), ensure_ascii=False).encode()
                    if len(data) > MAX_RECORD_BYTES:  # JSON escapes grew it past what a read takes
                        raise RecordTooBig(len(data))
                    f.write(data)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise self._error("write", exc) from None

    def get(self, key: str) -> Record | None:
        return self._read(self._path(key))

    def claim(self, record: Record, now_ms: int, timeout_s: float) -> Record | None:
        """Write `record` (in progress) unless a live record holds the key; else return that."""
        with self._locked(record.key) as path:
            existing = self._read(path)
            if not claimable(existing, now_ms):
                return existing
            self._write(path, record)
            return None

    def complete(self, record: Record, timeout_s: float) -> None:
        with self._locked(record.key) as path:
            try:
                self._write(path, record)
            except RecordTooBig as exc:
                # Not stored, as a response over the limit is not: the key is freed (not left
                # locked until the deadline) and the response passes on.
                existing = self._read(path)
                if existing is not None and existing.status == INPROGRESS:
                    os.unlink(path)
                print(f"idempotency: the record would be {exc.size} bytes once JSON-escaped, over "
                      f"{MAX_RECORD_BYTES}; not stored, a retry will run the handler again", file=sys.stderr)

    def release(self, claim: Record, timeout_s: float) -> None:
        """Delete our in-progress record, so a retry can run. A record that is no longer
        ours (completed, or reclaimed by another invocation after ours expired) stays."""
        with self._locked(claim.key) as path:
            existing = self._read(path)
            if existing is None or not is_same_claim(existing, claim):
                return
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise self._error("delete", exc) from None


class RecordTooBig(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


def _to_json(record: Record) -> dict[str, Any]:
    document: dict[str, Any] = {"id": record.key, "status": record.status, "expiration": record.expiry_s}
    if record.in_progress_expiry_ms is not None:
        document["in_progress_expiration"] = record.in_progress_expiry_ms
    if record.owner is not None:
        document["in_progress_owner"] = record.owner
    if record.response is not None:
        try:
            document["data"] = record.response.decode()
        except UnicodeDecodeError:
            document["data_base64"] = base64.b64encode(record.response).decode()
    if record.content_type:
        document["content_type"] = record.content_type
    if record.payload_hash is not None:
        document["validation"] = record.payload_hash
    return document


def _from_json(document: dict[str, Any]) -> Record:
    response: bytes | None = None
    if "data" in document:
        response = document["data"].encode()
    elif "data_base64" in document:
        response = base64.b64decode(document["data_base64"])
    return Record(document["id"], document["status"], int(document["expiration"]),
                  document.get("in_progress_expiration"), response,
                  document.get("content_type"), document.get("validation"), document.get("in_progress_owner"))
