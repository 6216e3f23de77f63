"""The middleware over each store, driven hook by hook as the orchestrator drives it in
persistent mode: the DynamoDB store against moto's server (a real DynamoDB API over HTTP),
the file store in a temporary folder. The "handler" counts its runs in a file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import load
from idempotency_support import DynamoDB, Middleware, now_ms

API_EVENT = load("apigw-v1-proxy-request.json")  # body '{"a": 1}', requestContext.requestId
BY_BODY_FIELD = {"IDEMPOTENCY_EVENT_KEY_JMESPATH": "powertools_json(body).a"}


class Handler:
    """Counts its runs in a file; fails while `failing` is set."""

    def __init__(self, folder: Path) -> None:
        self.runs_file = folder / "runs"
        self.runs_file.write_text("")
        self.failing = False

    @property
    def runs(self) -> int:
        return len(self.runs_file.read_text().splitlines())

    def __call__(self, event: Any) -> dict[str, Any]:
        with self.runs_file.open("a") as f:
            f.write("run\n")
        if self.failing:
            raise RuntimeError("the handler failed")
        return {"statusCode": 200, "run": self.runs, "a": json.loads(event["body"])["a"]}


def invoke(mw: Middleware, event: Any, handler: Callable[[Any], Any], *,
           deadline_ms: int | None = None) -> tuple[str, Any]:
    """One invocation's hooks around `handler`: ("ran" | "replayed" | "failed" | "handler error", payload)."""
    header, payload = mw.call("before", json.dumps(event).encode(), deadline_ms=deadline_ms)
    if header.get("action") == "respond":
        return "replayed", json.loads(payload)
    if header.get("action") == "fail":
        return "failed", json.loads(payload)
    state = header.get("state")
    try:
        response = handler(json.loads(payload))
    except RuntimeError as exc:
        error = {"errorType": "RuntimeError", "errorMessage": str(exc)}
        header, _ = mw.call("error", json.dumps(error).encode(), state=state, deadline_ms=deadline_ms)
        assert header.get("action", "continue") == "continue"  # the error goes on unchanged
        return "handler error", error
    header, payload = mw.call("after", json.dumps(response).encode(), state=state, deadline_ms=deadline_ms)
    assert header.get("action", "continue") == "continue"
    return "ran", json.loads(payload)


@pytest.fixture(params=["file", "dynamodb"])
def store_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "file":
        return {"IDEMPOTENCY_FILE_DIR": str(tmp_path / "records")}
    table: DynamoDB = request.getfixturevalue("dynamodb")
    return table.env()


@pytest.fixture
def start(store_env: dict[str, str]) -> Iterator[Callable[..., Middleware]]:
    started: list[Middleware] = []

    def start_one(**env: str) -> Middleware:
        mw = Middleware({**store_env, **env})
        started.append(mw)
        return mw

    yield start_one
    for mw in started:
        mw.close()


def with_body(a: int) -> dict[str, Any]:
    return {**API_EVENT, "body": json.dumps({"a": a})}


def test_the_first_call_runs_and_a_repeat_gets_the_stored_response(start: Any, tmp_path: Path) -> None:
    mw, handler = start(**BY_BODY_FIELD), Handler(tmp_path)

    first = invoke(mw, API_EVENT, handler)
    repeat = invoke(mw, API_EVENT, handler)
    other_key = invoke(mw, with_body(2), handler)

    assert first == ("ran", {"statusCode": 200, "run": 1, "a": 1})
    assert repeat == ("replayed", {"statusCode": 200, "run": 1, "a": 1})
    assert other_key == ("ran", {"statusCode": 200, "run": 2, "a": 2})
    assert handler.runs == 2


def test_a_duplicate_while_the_first_runs_is_refused_then_gets_the_response(start: Any, tmp_path: Path) -> None:
    # Two execution environments (two processes) sharing the store.
    one, two, handler = start(**BY_BODY_FIELD), start(**BY_BODY_FIELD), Handler(tmp_path)
    event = json.dumps(API_EVENT).encode()

    claimed, _ = one.call("before", event)
    refused, error = two.call("before", event)
    one.call("after", json.dumps(handler(API_EVENT)).encode(), state=claimed["state"])
    later = invoke(two, API_EVENT, handler)

    assert claimed.get("action", "continue") == "continue"
    assert refused["action"] == "fail"
    assert json.loads(error)["errorType"] == "Idempotency.AlreadyInProgress"
    assert "in progress" in json.loads(error)["errorMessage"]
    assert later == ("replayed", {"statusCode": 200, "run": 1, "a": 1})
    assert handler.runs == 1


def test_of_simultaneous_duplicates_exactly_one_claims_the_key(start: Any) -> None:
    racers = [start(**BY_BODY_FIELD) for _ in range(4)]
    event = json.dumps(API_EVENT).encode()
    go = threading.Barrier(len(racers))
    answers: list[str] = []

    def race(mw: Middleware) -> None:
        go.wait()
        header, payload = mw.call("before", event)
        answers.append(json.loads(payload)["errorType"] if header.get("action") == "fail" else "claimed")

    threads = [threading.Thread(target=race, args=(mw,)) for mw in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(answers) == ["Idempotency.AlreadyInProgress"] * 3 + ["claimed"]


def test_a_claim_whose_invocation_died_is_taken_over_after_its_deadline(start: Any, tmp_path: Path) -> None:
    mw, handler = start(**BY_BODY_FIELD), Handler(tmp_path)
    event = json.dumps(API_EVENT).encode()

    died, _ = mw.call("before", event, deadline_ms=now_ms() + 300)  # no after, no error: it died
    refused = invoke(mw, API_EVENT, handler)
    time.sleep(0.35)
    taken_over = invoke(mw, API_EVENT, handler)

    assert died.get("action", "continue") == "continue"
    assert refused[0] == "failed" and refused[1]["errorType"] == "Idempotency.AlreadyInProgress"
    assert taken_over == ("ran", {"statusCode": 200, "run": 1, "a": 1})


def test_a_completed_record_expires_and_the_handler_runs_again(tmp_path: Path) -> None:
    # The file store here; the DynamoDB store's expiry is the seeded-record test below,
    # which needs no wait.
    mw = Middleware({"IDEMPOTENCY_FILE_DIR": str(tmp_path / "records"), **BY_BODY_FIELD,
                     "IDEMPOTENCY_EXPIRES_AFTER_SECONDS": "1"})
    handler = Handler(tmp_path)
    try:
        first = invoke(mw, API_EVENT, handler)
        stored_until = int(time.time()) + 1
        repeat = invoke(mw, API_EVENT, handler)
        time.sleep(max(0.0, stored_until + 1 - time.time()))  # expired: expiration < now, in seconds
        after_expiry = invoke(mw, API_EVENT, handler)
    finally:
        mw.close()

    assert first[0] == "ran" and repeat[0] == "replayed"
    assert after_expiry == ("ran", {"statusCode": 200, "run": 2, "a": 1})


def test_a_handler_error_lets_a_retry_run(start: Any, tmp_path: Path) -> None:
    mw, handler = start(**BY_BODY_FIELD), Handler(tmp_path)

    handler.failing = True
    failed = invoke(mw, API_EVENT, handler)
    handler.failing = False
    retried = invoke(mw, API_EVENT, handler)

    assert failed[0] == "handler error"
    assert retried == ("ran", {"statusCode": 200, "run": 2, "a": 1})


def test_the_same_key_with_a_different_payload_is_refused(start: Any, tmp_path: Path) -> None:
    mw, handler = start(IDEMPOTENCY_EVENT_KEY_JMESPATH="requestContext.requestId",
                        IDEMPOTENCY_PAYLOAD_VALIDATION_JMESPATH="powertools_json(body)"), Handler(tmp_path)

    first = invoke(mw, API_EVENT, handler)
    same = invoke(mw, API_EVENT, handler)
    changed = invoke(mw, with_body(2), handler)  # same requestId, another body

    assert first[0] == "ran" and same[0] == "replayed"
    assert changed[0] == "failed"
    assert changed[1]["errorType"] == "Idempotency.ValidationError"
    assert "payload differs" in changed[1]["errorMessage"]
    assert handler.runs == 1


def test_an_event_without_the_key_runs_unguarded_or_is_refused(start: Any, tmp_path: Path) -> None:
    lenient = start(IDEMPOTENCY_EVENT_KEY_JMESPATH='headers."Idempotency-Key"')
    strict = start(IDEMPOTENCY_EVENT_KEY_JMESPATH='headers."Idempotency-Key"', IDEMPOTENCY_RAISE_ON_NO_KEY="true")
    handler = Handler(tmp_path)

    runs = [invoke(lenient, API_EVENT, handler)[0] for _ in range(2)]
    refused = invoke(strict, API_EVENT, handler)

    assert runs == ["ran", "ran"]  # nothing stored, so nothing replayed
    assert refused[0] == "failed" and refused[1]["errorType"] == "Idempotency.KeyError"
    assert 'headers."Idempotency-Key" is null' in refused[1]["errorMessage"]
    assert "no key" in lenient.close()


def test_a_response_over_the_limit_is_passed_on_but_not_stored(tmp_path: Path) -> None:
    mw = Middleware({"IDEMPOTENCY_FILE_DIR": str(tmp_path / "records"), **BY_BODY_FIELD,
                     "IDEMPOTENCY_MAX_RESPONSE_BYTES": "20"})
    handler = Handler(tmp_path)
    try:
        first = invoke(mw, API_EVENT, handler)
        second = invoke(mw, API_EVENT, handler)
    finally:
        stderr = mw.close()

    assert first == ("ran", {"statusCode": 200, "run": 1, "a": 1})  # the caller still gets it
    assert second == ("ran", {"statusCode": 200, "run": 2, "a": 1})  # not replayed, not locked
    assert "is over 20 bytes and is not stored" in stderr


def test_a_claim_outlives_a_shorter_record_expiry_until_its_deadline(start: Any, tmp_path: Path) -> None:
    """Records expire after 1 s here, the invocation has 60 s: its duplicate 2 s later
    must still be refused, not run the handler a second time."""
    one, two = start(**BY_BODY_FIELD, IDEMPOTENCY_EXPIRES_AFTER_SECONDS="1"), start(**BY_BODY_FIELD)
    event = json.dumps(API_EVENT).encode()
    claimed, _ = one.call("before", event, deadline_ms=now_ms() + 60_000)
    time.sleep(2.1)  # expiry is in whole seconds
    refused, error = two.call("before", event, deadline_ms=now_ms() + 60_000)
    assert claimed.get("action", "continue") == "continue"
    assert refused["action"] == "fail" and json.loads(error)["errorType"] == "Idempotency.AlreadyInProgress"


def test_records_keep_utf8_and_one_too_big_once_escaped_frees_the_key(tmp_path: Path) -> None:
    """A 4 MB emoji response once became a 12 MB record (\\u escapes) that no read
    accepted, locking the key for an hour; one whose JSON escaping still grows it past the
    record limit is now not stored, and the key is free."""
    mw = Middleware({"IDEMPOTENCY_FILE_DIR": str(tmp_path / "records"), "IDEMPOTENCY_EVENT_KEY_JMESPATH": "k"})

    def once(key: str, response: bytes) -> str:
        header, payload = mw.call("before", json.dumps({"k": key}).encode())
        if header.get("action") == "respond":
            return "replayed" if payload == response else "replayed something else"
        if header.get("action") == "fail":
            return json.loads(payload)["errorType"]
        header, payload = mw.call("after", response, state=header.get("state"))
        assert header.get("action", "continue") == "continue" and payload == response  # passed on
        return "ran"

    emoji = ('"' + "😀" * 1_000_000 + '"').encode()  # 4 MB as UTF-8
    quotes = json.dumps({"body": '"' * 2_800_000}).encode()  # 5.6 MB; its record would be 11.2 MB
    try:
        assert [once("a", emoji), once("a", emoji)] == ["ran", "replayed"]
        assert [once("b", quotes), once("b", quotes)] == ["ran", "ran"]  # not stored, never locked
    finally:
        mw.close()
